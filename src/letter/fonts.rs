//! The embedded DejaVu fonts and the advance widths every line is measured with.

use super::*;

pub(super) const SANS_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(super) const SANS_BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
pub(super) const MONO_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Face {
    Regular,
    Bold,
    Mono,
}

pub(super) struct LoadedFont {
    pub(super) font: ParsedFont,
    pub(super) id: FontId,
    pub(super) units_per_em: f32,
}

pub(super) struct Fonts {
    pub(super) regular: LoadedFont,
    pub(super) bold: LoadedFont,
    pub(super) mono: LoadedFont,
}

impl Fonts {
    pub(super) fn load(doc: &mut PdfDocument) -> Result<Self, LetterError> {
        Ok(Self {
            regular: load_font(doc, SANS_TTF, "DejaVuSans.ttf")?,
            bold: load_font(doc, SANS_BOLD_TTF, "DejaVuSans-Bold.ttf")?,
            mono: load_font(doc, MONO_TTF, "DejaVuSansMono.ttf")?,
        })
    }

    pub(super) fn get(&self, face: Face) -> &LoadedFont {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
            Face::Mono => &self.mono,
        }
    }

    pub(super) fn has_glyph(&self, face: Face, ch: char) -> bool {
        matches!(self.get(face).font.lookup_glyph_index(u32::from(ch)), Some(gid) if gid != 0)
    }

    /// Width of `text` set in `face` at `size` points, in millimetres.
    pub(super) fn width(&self, face: Face, size: f32, text: &str) -> f32 {
        let f = self.get(face);
        let units: f32 = text
            .chars()
            .map(|c| {
                f.font
                    .lookup_glyph_index(u32::from(c))
                    .map_or(0.0, |gid| f32::from(f.font.get_horizontal_advance(gid)))
            })
            .sum();
        units / f.units_per_em * size * PT_TO_MM
    }

    /// Greedy word wrap to `max_w` mm. Words wider than the line are broken between
    /// characters (long URLs, usernames). Never returns an empty vector.
    pub(super) fn wrap(&self, face: Face, size: f32, text: &str, max_w: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut cur = String::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if cur.is_empty() {
                word.to_string()
            } else {
                format!("{cur} {word}")
            };
            if self.width(face, size, &candidate) <= max_w {
                cur = candidate;
                continue;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            if self.width(face, size, word) <= max_w {
                cur = word.to_string();
                continue;
            }
            cur = self.break_long_word(face, size, word, max_w, &mut lines);
        }
        if !cur.is_empty() || lines.is_empty() {
            lines.push(cur);
        }
        lines
    }

    /// Breaks a word wider than `max_w` into full lines pushed onto `lines`, preferring to
    /// break after `-`, `/`, `.`, `_`, `?`, `&`, `=` or `@` (references, URLs) when such a
    /// break keeps at least half of the line filled. Returns the unfinished last piece.
    pub(super) fn break_long_word(
        &self,
        face: Face,
        size: f32,
        word: &str,
        max_w: f32,
        lines: &mut Vec<String>,
    ) -> String {
        let mut rest: Vec<char> = word.chars().collect();
        loop {
            // Longest prefix that fits (at least one character, so we always progress).
            let mut fit = 0;
            let mut width = 0.0;
            for (i, ch) in rest.iter().enumerate() {
                width += self.width(face, size, ch.encode_utf8(&mut [0; 4]));
                if width > max_w && i > 0 {
                    break;
                }
                fit = i + 1;
            }
            if fit >= rest.len() {
                return rest.into_iter().collect();
            }
            let friendly = rest[..fit]
                .iter()
                .rposition(|c| matches!(c, '-' | '/' | '.' | '_' | '?' | '&' | '=' | '@'))
                .map(|i| i + 1)
                .filter(|&cut| cut * 2 >= fit);
            let cut = friendly.unwrap_or(fit);
            lines.push(rest.drain(..cut).collect());
        }
    }

    /// Like [`Fonts::wrap`] but keeps at most `max_lines`, ending the last kept line with "…".
    pub(super) fn wrap_limited(
        &self,
        face: Face,
        size: f32,
        text: &str,
        max_w: f32,
        max_lines: usize,
    ) -> Vec<String> {
        let mut lines = self.wrap(face, size, text, max_w);
        if lines.len() > max_lines && max_lines > 0 {
            lines.truncate(max_lines);
            if let Some(last) = lines.last_mut() {
                while !last.is_empty() && self.width(face, size, &format!("{last}…")) > max_w {
                    last.pop();
                }
                let trimmed = last.trim_end().to_string();
                *last = format!("{trimmed}…");
            }
        }
        lines
    }
}

pub(super) fn load_font(
    doc: &mut PdfDocument,
    bytes: &[u8],
    name: &'static str,
) -> Result<LoadedFont, LetterError> {
    let mut warnings = Vec::new();
    let font = ParsedFont::from_bytes(bytes, 0, &mut warnings).ok_or(LetterError::Font(name))?;
    let units_per_em = f32::from(font.font_metrics.units_per_em);
    if units_per_em <= 0.0 {
        return Err(LetterError::Font(name));
    }
    let id = doc.add_font(&font);
    Ok(LoadedFont {
        font,
        id,
        units_per_em,
    })
}
