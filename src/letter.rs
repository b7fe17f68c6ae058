//! The credentials letter: a one-page A4 PDF in Czech that MPSV posts to an organisation with
//! the username, the initial password and the MPSV client identifier of a new OKslužby account.
//!
//! The page is laid out by hand with `printpdf` (no HTML layout): every line is measured with
//! the advance widths of the embedded DejaVu fonts and wrapped to the column it sits in. The
//! addressee block sits in the window of a DL envelope (DIN 5008 form B: 25 mm from the left
//! edge, 45–85 mm from the top); fold marks are printed at 105 mm and 210 mm. Fonts are
//! subset on save, so the PDF stays small and text extraction works through `/ToUnicode`.
//!
//! Callers pass strings already formatted for print (dates, postcode). Whitespace and control
//! characters inside a value are collapsed to single spaces; a non-breaking space (U+00A0) is
//! kept and never broken at. Strings should be in Unicode NFC (precomposed Czech letters).

use std::fmt;

use printpdf::{
    Color, DateTime, FontId, Greyscale, Line, LinePoint, Mm, Op, PaintMode, ParsedFont,
    PdfDocument, PdfFontHandle, PdfPage, PdfParseErrorSeverity, PdfSaveOptions, Point, Pt, Rect,
    TextItem,
};

const SANS_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const SANS_BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");
const MONO_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSansMono.ttf");

/// Everything printed on a credentials letter. All strings are already formatted for print.
#[derive(Clone)]
pub struct Letter {
    /// Addressee: the organisation.
    pub organisation_name: String,
    /// "IČO 12345678" is printed from this ("12345678"); may be empty.
    pub organisation_ico: String,
    /// e.g. "Na Poříčním právu 376/1"
    pub seat_street: String,
    /// "128 01"
    pub seat_postcode: String,
    /// "Praha 2"
    pub seat_city: String,
    /// "Jiří Šťastný" (to the attention of); may be empty.
    pub person_name: String,
    pub username: String,
    /// Random, ~16 characters. Printed in a monospace font.
    pub initial_password: String,
    /// e.g. "MP000000013"; may be empty (the line is left out).
    pub mpsv_client_id: String,
    /// e.g. ["OKslužby – poskytovatel", "OKslužby – rodina"]; may be empty.
    pub applications: Vec<String>,
    /// e.g. "https://idp.mpsv.cz/"
    pub login_url: String,
    /// "30. 11. 2026"
    pub issued_on: String,
    /// The date the initial password stops working, "29. 1. 2027".
    pub expires_on: String,
    /// Letter reference number, e.g. "MPSV-IDP-2026-000123".
    pub reference: String,
}

impl fmt::Debug for Letter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Letter")
            .field("organisation_name", &self.organisation_name)
            .field("organisation_ico", &self.organisation_ico)
            .field("seat_street", &self.seat_street)
            .field("seat_postcode", &self.seat_postcode)
            .field("seat_city", &self.seat_city)
            .field("person_name", &self.person_name)
            .field("username", &self.username)
            .field("initial_password", &"[redacted]")
            .field("mpsv_client_id", &self.mpsv_client_id)
            .field("applications", &self.applications)
            .field("login_url", &self.login_url)
            .field("issued_on", &self.issued_on)
            .field("expires_on", &self.expires_on)
            .field("reference", &self.reference)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("letter field `{0}` is empty")]
    EmptyField(&'static str),
    #[error("letter field `{field}` is longer than {max} characters")]
    FieldTooLong { field: &'static str, max: usize },
    #[error("letter field `{field}` contains {ch:?} (U+{code:04X}), which the letter font cannot print", code = u32::from(*ch))]
    UnsupportedCharacter { field: &'static str, ch: char },
    #[error("the letter does not fit on one page (too many applications or too long values)")]
    DoesNotFit,
    #[error("embedded font {0} could not be parsed")]
    Font(&'static str),
    #[error("writing the PDF: {0}")]
    Pdf(String),
}

/// Longest value accepted in any single field (the page could not hold more anyway).
const MAX_FIELD_CHARS: usize = 400;
/// Most applications listed (each takes at least one line).
const MAX_APPLICATIONS: usize = 20;

const SENDER_NAME: &str = "Ministerstvo práce a sociálních věcí";
const SENDER_ADDRESS: &str = "Na Poříčním právu 376/1, 128\u{a0}01 Praha\u{a0}2";
const SUPPORT_EMAIL: &str = "podpora.oksluzby@mpsv.cz";
const SUBJECT: &str = "Přístupové údaje k účtu OKslužby";

// Page geometry, millimetres measured from the top-left corner of the page.
const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 25.0;
const RIGHT: f32 = 190.0;
const TEXT_W: f32 = RIGHT - LEFT;
/// Address field of a DL window envelope (DIN 5008 form B): 20–110 mm across, 45–90 mm down;
/// we keep 25 mm from the left and stay above 85 mm.
const WINDOW_LEFT: f32 = LEFT;
const WINDOW_W: f32 = 80.0;
const WINDOW_TOP: f32 = 45.0;
const WINDOW_BOTTOM: f32 = 85.0;
/// Right-hand column beside the window: reference and date.
const META_LEFT: f32 = 122.0;
/// Lowest baseline body text may use (the footer sits below it).
const BODY_BOTTOM: f32 = 276.0;
const FOOTER_BASELINE: f32 = 287.0;
const PT_TO_MM: f32 = 25.4 / 72.0;

/// Body font sizes tried in turn until the letter fits on one page.
const BODY_SIZES: [f32; 4] = [10.0, 9.5, 9.0, 8.5];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
    Mono,
}

struct LoadedFont {
    font: ParsedFont,
    id: FontId,
    units_per_em: f32,
}

struct Fonts {
    regular: LoadedFont,
    bold: LoadedFont,
    mono: LoadedFont,
}

impl Fonts {
    fn load(doc: &mut PdfDocument) -> Result<Self, LetterError> {
        Ok(Self {
            regular: load_font(doc, SANS_TTF, "DejaVuSans.ttf")?,
            bold: load_font(doc, SANS_BOLD_TTF, "DejaVuSans-Bold.ttf")?,
            mono: load_font(doc, MONO_TTF, "DejaVuSansMono.ttf")?,
        })
    }

    fn get(&self, face: Face) -> &LoadedFont {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
            Face::Mono => &self.mono,
        }
    }

    fn has_glyph(&self, face: Face, ch: char) -> bool {
        matches!(self.get(face).font.lookup_glyph_index(u32::from(ch)), Some(gid) if gid != 0)
    }

    /// Width of `text` set in `face` at `size` points, in millimetres.
    fn width(&self, face: Face, size: f32, text: &str) -> f32 {
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
    fn wrap(&self, face: Face, size: f32, text: &str, max_w: f32) -> Vec<String> {
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
    fn break_long_word(
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
    fn wrap_limited(
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

fn load_font(
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

/// Collapses whitespace and control characters to single spaces (keeping non-breaking spaces).
fn clean(s: &str) -> String {
    s.split(|c: char| c.is_control() || (c.is_whitespace() && c != '\u{a0}' && c != '\u{202f}'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The letter's fields after cleaning and validation.
struct Fields {
    organisation_name: String,
    organisation_ico: String,
    seat_street: String,
    seat_postcode: String,
    seat_city: String,
    person_name: String,
    username: String,
    initial_password: String,
    mpsv_client_id: String,
    applications: Vec<String>,
    login_url: String,
    issued_on: String,
    expires_on: String,
    reference: String,
}

fn field(
    fonts: &Fonts,
    name: &'static str,
    value: &str,
    required: bool,
    faces: &[Face],
) -> Result<String, LetterError> {
    let value = clean(value);
    if required && value.is_empty() {
        return Err(LetterError::EmptyField(name));
    }
    if value.chars().count() > MAX_FIELD_CHARS {
        return Err(LetterError::FieldTooLong {
            field: name,
            max: MAX_FIELD_CHARS,
        });
    }
    for ch in value.chars() {
        if ch != ' ' && faces.iter().any(|&face| !fonts.has_glyph(face, ch)) {
            return Err(LetterError::UnsupportedCharacter { field: name, ch });
        }
    }
    Ok(value)
}

impl Fields {
    fn new(letter: &Letter, fonts: &Fonts) -> Result<Self, LetterError> {
        use Face::{Bold, Mono, Regular};
        let text = &[Regular, Bold][..];
        let mono = &[Mono][..];
        if letter.applications.len() > MAX_APPLICATIONS {
            return Err(LetterError::DoesNotFit);
        }
        let applications = letter
            .applications
            .iter()
            .map(|a| field(fonts, "applications", a, false, text))
            .filter(|a| !matches!(a, Ok(a) if a.is_empty()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            organisation_name: field(
                fonts,
                "organisation_name",
                &letter.organisation_name,
                true,
                text,
            )?,
            organisation_ico: field(
                fonts,
                "organisation_ico",
                &letter.organisation_ico,
                false,
                text,
            )?,
            seat_street: field(fonts, "seat_street", &letter.seat_street, true, text)?,
            seat_postcode: field(fonts, "seat_postcode", &letter.seat_postcode, false, text)?,
            seat_city: field(fonts, "seat_city", &letter.seat_city, true, text)?,
            person_name: field(fonts, "person_name", &letter.person_name, false, text)?,
            username: field(fonts, "username", &letter.username, true, mono)?,
            initial_password: field(
                fonts,
                "initial_password",
                &letter.initial_password,
                true,
                mono,
            )?,
            mpsv_client_id: field(fonts, "mpsv_client_id", &letter.mpsv_client_id, false, mono)?,
            applications,
            login_url: field(fonts, "login_url", &letter.login_url, true, text)?,
            issued_on: field(fonts, "issued_on", &letter.issued_on, true, text)?,
            expires_on: field(fonts, "expires_on", &letter.expires_on, true, text)?,
            reference: field(fonts, "reference", &letter.reference, true, text)?,
        })
    }
}

/// Content of the page: background shapes first, then text on top.
struct Canvas<'a> {
    fonts: &'a Fonts,
    background: Vec<Op>,
    foreground: Vec<Op>,
}

fn point(x_mm: f32, y_mm_from_top: f32) -> Point {
    Point {
        x: Mm(x_mm).into(),
        y: Mm(PAGE_H - y_mm_from_top).into(),
    }
}

fn grey(level: f32) -> Color {
    Color::Greyscale(Greyscale::new(level, None))
}

impl<'a> Canvas<'a> {
    fn new(fonts: &'a Fonts) -> Self {
        Self {
            fonts,
            background: Vec::new(),
            foreground: Vec::new(),
        }
    }

    /// One line of text with its baseline `y` mm from the top of the page.
    fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        self.text_coloured(face, size, x, y, text, 0.0);
    }

    fn text_coloured(
        &mut self,
        face: Face,
        size: f32,
        x: f32,
        y: f32,
        text: &str,
        grey_level: f32,
    ) {
        if text.is_empty() {
            return;
        }
        let font = self.fonts.get(face).id.clone();
        self.foreground.extend([
            Op::StartTextSection,
            Op::SetFillColor {
                col: grey(grey_level),
            },
            Op::SetFont {
                font: PdfFontHandle::External(font),
                size: Pt(size),
            },
            Op::SetTextCursor { pos: point(x, y) },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    fn text_right(
        &mut self,
        face: Face,
        size: f32,
        right: f32,
        y: f32,
        text: &str,
        grey_level: f32,
    ) {
        let x = right - self.fonts.width(face, size, text);
        self.text_coloured(face, size, x, y, text, grey_level);
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness_pt: f32, grey_level: f32) {
        self.background.extend([
            Op::SetOutlineColor {
                col: grey(grey_level),
            },
            Op::SetOutlineThickness {
                pt: Pt(thickness_pt),
            },
            Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint {
                            p: point(x1, y),
                            bezier: false,
                        },
                        LinePoint {
                            p: point(x2, y),
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            },
        ]);
    }

    /// A filled rectangle whose top-left corner is `(x, top)`.
    fn fill_rect(&mut self, x: f32, top: f32, w: f32, h: f32, grey_level: f32) {
        let mut rect = Rect::from_xywh(
            Mm(x).into(),
            Mm(PAGE_H - top - h).into(),
            Mm(w).into(),
            Mm(h).into(),
        );
        rect.mode = Some(PaintMode::Fill);
        self.background.extend([
            Op::SetFillColor {
                col: grey(grey_level),
            },
            Op::DrawRectangle { rectangle: rect },
        ]);
    }

    fn into_ops(self) -> Vec<Op> {
        let mut ops = self.background;
        ops.extend(self.foreground);
        ops
    }
}

/// Body text flow: a cursor moving down the page.
struct Flow<'a, 'b> {
    canvas: &'b mut Canvas<'a>,
    size: f32,
    line_h: f32,
    /// Baseline of the last line written.
    y: f32,
}

impl Flow<'_, '_> {
    /// Moves the cursor down by `lines` line heights and returns the new baseline.
    fn advance(&mut self, lines: f32) -> Result<f32, LetterError> {
        self.y += lines * self.line_h;
        if self.y > BODY_BOTTOM {
            return Err(LetterError::DoesNotFit);
        }
        Ok(self.y)
    }

    /// A wrapped paragraph at `x`, `width` wide, starting on the next line.
    fn paragraph(&mut self, face: Face, x: f32, width: f32, text: &str) -> Result<(), LetterError> {
        let lines = self.canvas.fonts.wrap(face, self.size, text, width);
        for line in lines {
            let y = self.advance(1.0)?;
            self.canvas.text(face, self.size, x, y, &line);
        }
        Ok(())
    }

    /// A list item: `marker` at `x`, the text wrapped in a column starting at `x + indent`.
    fn item(&mut self, marker: &str, x: f32, indent: f32, text: &str) -> Result<(), LetterError> {
        let lines = self
            .canvas
            .fonts
            .wrap(Face::Regular, self.size, text, RIGHT - x - indent);
        for (i, line) in lines.iter().enumerate() {
            let y = self.advance(1.0)?;
            if i == 0 {
                self.canvas.text(Face::Regular, self.size, x, y, marker);
            }
            self.canvas
                .text(Face::Regular, self.size, x + indent, y, line);
        }
        Ok(())
    }

    fn gap(&mut self, lines: f32) -> Result<(), LetterError> {
        self.advance(lines).map(|_| ())
    }
}

/// Header, window address block, reference/date column, fold marks and footer: everything
/// outside the body flow. Returns the baseline below which the body may start.
fn draw_frame(canvas: &mut Canvas<'_>, f: &Fields) -> f32 {
    // Sender header.
    canvas.text(Face::Bold, 13.0, LEFT, 20.0, SENDER_NAME);
    canvas.text_coloured(Face::Regular, 9.0, LEFT, 25.5, SENDER_ADDRESS, 0.3);
    canvas.hline(LEFT, RIGHT, 29.0, 0.6, 0.35);

    // Return address at the top of the envelope window.
    let return_address = format!("MPSV, {SENDER_ADDRESS}");
    canvas.text_coloured(
        Face::Regular,
        6.5,
        WINDOW_LEFT,
        WINDOW_TOP + 4.0,
        &return_address,
        0.3,
    );
    canvas.hline(
        WINDOW_LEFT,
        WINDOW_LEFT + WINDOW_W,
        WINDOW_TOP + 5.2,
        0.3,
        0.5,
    );
    draw_address(canvas, f, WINDOW_TOP + 11.0);

    // Reference and date beside the window.
    let meta_w = RIGHT - META_LEFT;
    let mut y = WINDOW_TOP + 11.0;
    let reference = format!("Č.\u{a0}j.: {}", f.reference);
    for line in canvas.fonts.wrap(Face::Regular, 9.0, &reference, meta_w) {
        canvas.text(Face::Regular, 9.0, META_LEFT, y, &line);
        y += 4.4;
    }
    let contact = format!("Vyřizuje: Technická podpora OKslužby, {SUPPORT_EMAIL}");
    for line in canvas.fonts.wrap(Face::Regular, 9.0, &contact, meta_w) {
        canvas.text(Face::Regular, 9.0, META_LEFT, y, &line);
        y += 4.4;
    }
    let date = format!("V Praze dne {}", f.issued_on);
    y += 2.0;
    for line in canvas.fonts.wrap(Face::Regular, 9.0, &date, meta_w) {
        canvas.text(Face::Regular, 9.0, META_LEFT, y, &line);
        y += 4.4;
    }

    // Fold marks (DIN 5008 form B) and the punch mark.
    canvas.hline(4.0, 9.0, 105.0, 0.4, 0.5);
    canvas.hline(4.0, 9.0, 210.0, 0.4, 0.5);
    canvas.hline(4.0, 11.0, PAGE_H / 2.0, 0.4, 0.5);

    // Footer.
    canvas.hline(LEFT, RIGHT, FOOTER_BASELINE - 4.0, 0.4, 0.6);
    let footer_ref = format!("Č.\u{a0}j.: {}", f.reference);
    let footer_ref = canvas
        .fonts
        .wrap_limited(Face::Regular, 7.5, &footer_ref, TEXT_W * 0.55, 1)
        .join(" ");
    canvas.text_coloured(Face::Regular, 7.5, LEFT, FOOTER_BASELINE, &footer_ref, 0.35);
    canvas.text_right(
        Face::Regular,
        7.5,
        RIGHT,
        FOOTER_BASELINE,
        "Důvěrné – obsahuje přístupové údaje",
        0.35,
    );

    (WINDOW_BOTTOM + 12.0).max(y + 6.0)
}

/// Lines of the address block with the face each is set in.
type AddressLines = Vec<(Face, String)>;

/// The postal address in the envelope window. It must stay inside the window, so it shrinks
/// and, as a last resort, shortens long lines with "…" (the full organisation name is
/// repeated in the body).
fn draw_address(canvas: &mut Canvas<'_>, f: &Fields, first_baseline: f32) {
    let fonts = canvas.fonts;
    let attention = if f.person_name.is_empty() {
        String::new()
    } else {
        format!("k\u{a0}rukám {}", f.person_name)
    };
    let town = format!("{} {}", f.seat_postcode, f.seat_city)
        .trim()
        .to_string();
    let parts: [(&str, Face); 4] = [
        (&f.organisation_name, Face::Bold),
        (&attention, Face::Regular),
        (&f.seat_street, Face::Regular),
        (&town, Face::Regular),
    ];
    let available = WINDOW_BOTTOM - first_baseline;
    let mut chosen: Option<(f32, f32, AddressLines)> = None;
    for size in [11.0_f32, 10.0, 9.0, 8.0] {
        let line_h = size * PT_TO_MM * 1.3;
        let max_lines = (available / line_h).floor() as usize + 1;
        let mut lines = Vec::new();
        for (text, face) in parts {
            if !text.is_empty() {
                for l in fonts.wrap(face, size, text, WINDOW_W) {
                    lines.push((face, l));
                }
            }
        }
        if lines.len() <= max_lines {
            chosen = Some((size, line_h, lines));
            break;
        }
    }
    let (size, line_h, lines) = chosen.unwrap_or_else(|| {
        // Still too long at the smallest size: every part gets one line, then the spare lines
        // go to the town, the street and the attention line before the organisation name
        // (which the body repeats in full); whatever is left over is cut with "…".
        let size = 8.0;
        let line_h = size * PT_TO_MM * 1.3;
        let max_lines = (available / line_h).floor() as usize + 1;
        let needed: Vec<usize> = parts
            .iter()
            .map(|(text, face)| {
                if text.is_empty() {
                    0
                } else {
                    fonts.wrap(*face, size, text, WINDOW_W).len()
                }
            })
            .collect();
        let mut budget: Vec<usize> = needed.iter().map(|&n| n.min(1)).collect();
        let mut spare = max_lines.saturating_sub(budget.iter().sum());
        for i in (0..parts.len()).rev() {
            let extra = needed[i].saturating_sub(budget[i]).min(spare);
            budget[i] += extra;
            spare -= extra;
        }
        let mut lines = Vec::new();
        for ((text, face), limit) in parts.iter().zip(budget) {
            if limit > 0 {
                for l in fonts.wrap_limited(*face, size, text, WINDOW_W, limit) {
                    lines.push((*face, l));
                }
            }
        }
        (size, line_h, lines)
    });
    let mut y = first_baseline;
    for (face, line) in lines {
        canvas.text(face, size, WINDOW_LEFT, y, &line);
        y += line_h;
    }
}

fn layout(f: &Fields, fonts: &Fonts, size: f32) -> Result<Vec<Op>, LetterError> {
    let mut canvas = Canvas::new(fonts);
    let body_top = draw_frame(&mut canvas, f);
    let line_h = size * PT_TO_MM * 1.45;

    canvas.text(Face::Bold, size + 2.0, LEFT, body_top, SUBJECT);
    let mut flow = Flow {
        canvas: &mut canvas,
        size,
        line_h,
        y: body_top + 3.0,
    };

    flow.paragraph(Face::Regular, LEFT, TEXT_W, "Vážená paní, vážený pane,")?;
    flow.gap(0.5)?;
    let organisation = if f.organisation_ico.is_empty() {
        f.organisation_name.clone()
    } else {
        format!("{} (IČO\u{a0}{})", f.organisation_name, f.organisation_ico)
    };
    flow.paragraph(
        Face::Regular,
        LEFT,
        TEXT_W,
        &format!(
            "na základě podepsaného souhlasu se zpracováním osobních údajů Vám Ministerstvo \
             práce a\u{a0}sociálních věcí (MPSV) zřídilo účet pro přihlašování do aplikací \
             OKslužby. Účet je veden pro organizaci {organisation}. Vaše přístupové údaje \
             jsou:"
        ),
    )?;

    // Credentials panel: label column + value column on a light background.
    let pad = 3.5;
    let label_x = LEFT + pad;
    let labels = [
        "Uživatelské jméno:",
        "Úvodní heslo:",
        "Identifikátor klienta MPSV:",
        "Adresa pro přihlášení:",
    ];
    let label_w = labels
        .iter()
        .map(|l| fonts.width(Face::Regular, size, l))
        .fold(0.0_f32, f32::max);
    let value_x = label_x + label_w + 4.0;
    let value_w = RIGHT - pad - value_x;
    let rows: Vec<(&str, Face, f32, &str)> = [
        (labels[0], Face::Mono, size + 1.0, f.username.as_str()),
        (
            labels[1],
            Face::Mono,
            size + 3.0,
            f.initial_password.as_str(),
        ),
        (labels[2], Face::Mono, size + 1.0, f.mpsv_client_id.as_str()),
        (labels[3], Face::Regular, size, f.login_url.as_str()),
    ]
    .into_iter()
    .filter(|row| !row.3.is_empty())
    .collect();
    // One row height for all rows, from the largest value font, so the rows are evenly spaced.
    let row_h = rows
        .iter()
        .map(|r| r.2 * PT_TO_MM * 1.45)
        .fold(line_h, f32::max);
    let panel_top = flow.y + line_h * 0.6;
    flow.y = panel_top + 0.5;
    for (label, face, value_size, value) in rows {
        let lines = fonts.wrap(face, value_size, value, value_w);
        for (i, line) in lines.iter().enumerate() {
            flow.y += if i == 0 {
                row_h
            } else {
                value_size * PT_TO_MM * 1.3
            };
            if flow.y > BODY_BOTTOM {
                return Err(LetterError::DoesNotFit);
            }
            if i == 0 {
                flow.canvas
                    .text(Face::Regular, size, label_x, flow.y, label);
            }
            flow.canvas.text(face, value_size, value_x, flow.y, line);
        }
    }
    let panel_bottom = flow.y + row_h * 0.55;
    flow.canvas
        .fill_rect(LEFT, panel_top, TEXT_W, panel_bottom - panel_top, 0.93);
    flow.y = panel_bottom;

    if !f.applications.is_empty() {
        flow.gap(0.5)?;
        flow.paragraph(
            Face::Regular,
            LEFT,
            TEXT_W,
            "Účet Vám umožňuje přístup k\u{a0}těmto aplikacím:",
        )?;
        for app in &f.applications {
            flow.item("•", LEFT + 3.0, 4.0, app)?;
        }
    }

    flow.gap(0.7)?;
    flow.paragraph(Face::Bold, LEFT, TEXT_W, "Jak postupovat")?;
    let steps = [
        format!(
            "Na adrese {} se přihlaste uvedeným uživatelským jménem a\u{a0}úvodním heslem.",
            f.login_url
        ),
        "Při prvním přihlášení si musíte úvodní heslo změnit na vlastní heslo, které \
         nikomu nesdělujte."
            .to_string(),
        format!(
            "Úvodní heslo platí do {}. Poté jej již nelze použít a\u{a0}o\u{a0}nový dopis \
             s\u{a0}přístupovými údaji je třeba požádat MPSV.",
            f.expires_on
        ),
        "Dopis uschovejte na bezpečném místě, kam nemá přístup nikdo jiný. Po změně hesla \
         jej zničte (skartujte)."
            .to_string(),
        "MPSV Vás nikdy nebude žádat o\u{a0}sdělení hesla telefonicky ani e-mailem. Na \
         takovou žádost nereagujte."
            .to_string(),
    ];
    for (i, step) in steps.iter().enumerate() {
        flow.item(&format!("{}.", i + 1), LEFT, 6.0, step)?;
    }

    flow.gap(0.7)?;
    flow.paragraph(
        Face::Regular,
        LEFT,
        TEXT_W,
        &format!("Technická podpora OKslužby: {SUPPORT_EMAIL}"),
    )?;

    flow.gap(1.0)?;
    flow.paragraph(Face::Regular, LEFT, TEXT_W, "S\u{a0}pozdravem")?;
    flow.gap(0.6)?;
    flow.paragraph(Face::Regular, LEFT, TEXT_W, SENDER_NAME)?;
    let note = "Dopis byl vytvořen automaticky a\u{a0}je platný bez podpisu.";
    let lines = fonts.wrap(Face::Regular, size - 1.5, note, TEXT_W);
    for line in lines {
        let y = flow.advance(0.9)?;
        flow.canvas
            .text_coloured(Face::Regular, size - 1.5, LEFT, y, &line, 0.35);
    }

    Ok(canvas.into_ops())
}

/// Renders the credentials letter and returns the PDF bytes (one A4 page).
pub fn render(letter: &Letter) -> Result<Vec<u8>, LetterError> {
    let mut doc = PdfDocument::new(SUBJECT);
    let fonts = Fonts::load(&mut doc)?;
    let fields = Fields::new(letter, &fonts)?;

    let mut ops = Err(LetterError::DoesNotFit);
    for size in BODY_SIZES {
        ops = layout(&fields, &fonts, size);
        if !matches!(ops, Err(LetterError::DoesNotFit)) {
            break;
        }
    }
    let ops = ops?;

    let now = DateTime::now();
    let info = &mut doc.metadata.info;
    info.author = SENDER_NAME.to_string();
    info.creator = "mpsv-idp".to_string();
    info.subject = format!("{SUBJECT} – {}", fields.reference);
    info.creation_date = now;
    info.modification_date = now;
    info.metadata_date = now;

    let page = PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops);
    let options = PdfSaveOptions {
        subset_fonts: true,
        ..Default::default()
    };
    let mut warnings = Vec::new();
    let bytes = doc.with_pages(vec![page]).save(&options, &mut warnings);
    if let Some(w) = warnings
        .iter()
        .find(|w| w.severity == PdfParseErrorSeverity::Error)
    {
        return Err(LetterError::Pdf(w.msg.clone()));
    }
    if bytes.is_empty() {
        return Err(LetterError::Pdf("printpdf produced no output".to_string()));
    }
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn sample() -> Letter {
        Letter {
            organisation_name: "Šťastná rodina, z. s.".to_string(),
            organisation_ico: "12345678".to_string(),
            seat_street: "Žluťoučká 1234/56".to_string(),
            seat_postcode: "400 01".to_string(),
            seat_city: "Ústí nad Labem".to_string(),
            person_name: "Řehoř Žďárský".to_string(),
            username: "rehor.zdarsky".to_string(),
            initial_password: "q7Vt2LmX9pKr4sWz".to_string(),
            mpsv_client_id: "MP000000013".to_string(),
            applications: vec![
                "OKslužby – poskytovatel".to_string(),
                "OKslužby – rodina".to_string(),
            ],
            login_url: "https://idp.mpsv.cz/".to_string(),
            issued_on: "30. 11. 2026".to_string(),
            expires_on: "29. 1. 2027".to_string(),
            reference: "MPSV-IDP-2026-000123".to_string(),
        }
    }

    fn temp_pdf(bytes: &[u8]) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "mpsv-idp-letter-test-{}-{n}.pdf",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Runs a poppler tool; a missing binary fails the test (CI installs poppler-utils).
    fn poppler(tool: &str, args: &[&str], bytes: &[u8]) -> String {
        let path = temp_pdf(bytes);
        let mut command = Command::new(tool);
        command.args(args).arg(&path);
        if tool == "pdftotext" {
            command.arg("-");
        }
        let output = command.output().unwrap_or_else(|e| {
            panic!(
                "cannot run `{tool}` ({e}); install poppler-utils (apt-get install poppler-utils)"
            )
        });
        let _ = std::fs::remove_file(&path);
        assert!(
            output.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn pdftotext(bytes: &[u8]) -> String {
        poppler("pdftotext", &["-layout"], bytes)
    }

    /// Each word on the page with its box in points (origin top-left), from `pdftotext -bbox`.
    fn words(bytes: &[u8]) -> Vec<(String, f32, f32, f32, f32)> {
        let html = poppler("pdftotext", &["-bbox"], bytes);
        let attr = |tag: &str, name: &str| -> f32 {
            let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            let end = start + tag[start..].find('"').unwrap();
            tag[start..end].parse().unwrap()
        };
        html.split("<word ")
            .skip(1)
            .map(|chunk| {
                let (tag, rest) = chunk.split_once('>').unwrap();
                let text = rest.split_once("</word>").unwrap().0.to_string();
                (
                    text,
                    attr(tag, "xMin"),
                    attr(tag, "yMin"),
                    attr(tag, "xMax"),
                    attr(tag, "yMax"),
                )
            })
            .collect()
    }

    fn mm(pt: f32) -> f32 {
        pt * 25.4 / 72.0
    }

    fn assert_inside_text_area(bytes: &[u8]) {
        for (word, x_min, y_min, x_max, y_max) in words(bytes) {
            assert!(
                mm(x_min) >= 3.0 && mm(x_max) <= RIGHT + 0.5,
                "word {word:?} runs off the text column: x {}..{} mm",
                mm(x_min),
                mm(x_max)
            );
            assert!(
                mm(y_min) >= 10.0 && mm(y_max) <= PAGE_H - 5.0,
                "word {word:?} is off the page vertically: y {}..{} mm",
                mm(y_min),
                mm(y_max)
            );
        }
    }

    #[test]
    fn renders_czech_text_that_extracts_intact() {
        let pdf = render(&sample()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = pdftotext(&pdf);
        for expected in [
            "rehor.zdarsky",
            "q7Vt2LmX9pKr4sWz",
            "MP000000013",
            "Šťastná rodina, z. s.",
            "Řehoř Žďárský",
            "Ústí nad Labem",
            "Žluťoučká 1234/56",
            "Přístupové údaje",
            "IČO",
            "12345678",
            "Ministerstvo práce a sociálních věcí",
            "V Praze dne 30. 11. 2026",
            "MPSV-IDP-2026-000123",
            "29. 1. 2027",
            "OKslužby – poskytovatel",
            "OKslužby – rodina",
            "https://idp.mpsv.cz/",
            "podpora.oksluzby@mpsv.cz",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from the extracted text:\n{text}"
            );
        }
        // One page: pdftotext ends every page with a form feed.
        assert_eq!(text.matches('\u{c}').count(), 1, "expected one page");
        assert_inside_text_area(&pdf);
    }

    #[test]
    fn fonts_are_subset_so_the_pdf_stays_small() {
        let pdf = render(&sample()).unwrap();
        assert!(
            pdf.len() < 150_000,
            "letter PDF is {} bytes; fonts are probably embedded whole",
            pdf.len()
        );
        let fonts = poppler("pdffonts", &[], &pdf);
        assert!(fonts.contains("DejaVuSans"), "{fonts}");
    }

    #[test]
    fn addressee_sits_in_the_envelope_window() {
        let pdf = render(&sample()).unwrap();
        let words = words(&pdf);
        for needle in ["rukám", "Žďárský", "Žluťoučká", "Ústí"] {
            let (_, x_min, y_min, _, y_max) = words
                .iter()
                .find(|w| w.0 == needle)
                .unwrap_or_else(|| panic!("{needle:?} not on the page"));
            assert!(
                mm(*y_min) >= WINDOW_TOP && mm(*y_max) <= WINDOW_BOTTOM + 1.0,
                "{needle:?} is outside the window: y {}..{} mm",
                mm(*y_min),
                mm(*y_max)
            );
            if needle != "Žluťoučká" {
                continue;
            }
            assert!(
                (19.0..=30.0).contains(&mm(*x_min)),
                "{needle:?} starts at x {} mm",
                mm(*x_min)
            );
        }
    }

    #[test]
    fn very_long_values_wrap_and_stay_on_the_page() {
        let mut letter = sample();
        letter.organisation_name = "Sdružení pro podporu rodin s dětmi se zdravotním \
             postižením a pro rozvoj sociálních služeb v Ústeckém, Libereckém, \
             Karlovarském a Královéhradeckém kraji, zapsaný ústav, pobočka Žďár nad \
             Sázavou – Středisko Řehořovo"
            .to_string();
        letter.seat_street = "Třída Osvobození Československa od nacistické okupace \
             a nadvlády 1234/567, vchod z nádvoří, budova Č, 3. patro, kancelář 321"
            .to_string();
        letter.person_name = "Mgr. Řehoř Žďárský-Šťastný, Ph.D., MBA, vedoucí oddělení".to_string();
        letter.username = "uzivatel.s.velmi.dlouhym.jmenem.bez.mezer.".repeat(3);
        letter.login_url = "https://idp.mpsv.cz/prihlaseni/velmi/dlouha/cesta/ktera/se/nevejde/na/jeden/radek/dopisu?parametr=hodnota&dalsi=123456".to_string();
        letter.reference = "MPSV-IDP-2026-000123-DODATEK-OPRAVA-DRUHA-VERZE".to_string();
        letter.applications = (1..=3)
            .map(|i| format!("OKslužby – aplikace číslo {i} s dlouhým popisem, který přesahuje šířku řádku, a proto se musí zalomit"))
            .collect();
        let pdf = render(&letter).unwrap();
        if let Some(dir) = std::env::var_os("LETTER_SAMPLE_DIR") {
            std::fs::write(PathBuf::from(dir).join("long.pdf"), &pdf).unwrap();
        }
        let text = pdftotext(&pdf);
        for expected in [
            "Sdružení pro podporu rodin",
            "Řehořovo",
            "kancelář 321",
            "q7Vt2LmX9pKr4sWz",
            "MP000000013",
            "aplikace číslo 3",
        ] {
            assert!(text.contains(expected), "{expected:?} missing:\n{text}");
        }
        assert_eq!(text.matches('\u{c}').count(), 1, "expected one page");
        assert_inside_text_area(&pdf);
        // The shrunk address block still ends inside the envelope window.
        let town = words(&pdf).into_iter().find(|w| w.0 == "Labem").unwrap();
        assert!(
            mm(town.4) <= WINDOW_BOTTOM + 1.0,
            "town line at {} mm",
            mm(town.4)
        );
    }

    #[test]
    fn too_much_content_is_an_error_not_a_panic() {
        let mut letter = sample();
        letter.applications = (1..=MAX_APPLICATIONS)
            .map(|i| {
                format!(
                    "OKslužby – aplikace {i} {}",
                    "s velmi dlouhým popisem ".repeat(12)
                )
            })
            .collect();
        assert!(matches!(render(&letter), Err(LetterError::DoesNotFit)));
        letter.applications = vec!["x".to_string(); MAX_APPLICATIONS + 1];
        assert!(matches!(render(&letter), Err(LetterError::DoesNotFit)));
        letter.applications = vec![];
        letter.organisation_name = "a".repeat(MAX_FIELD_CHARS + 1);
        assert!(matches!(
            render(&letter),
            Err(LetterError::FieldTooLong {
                field: "organisation_name",
                ..
            })
        ));
    }

    #[test]
    fn rejects_empty_required_fields_and_unprintable_characters() {
        let mut letter = sample();
        letter.initial_password = "  \n".to_string();
        assert!(matches!(
            render(&letter),
            Err(LetterError::EmptyField("initial_password"))
        ));
        let mut letter = sample();
        letter.seat_city = "東京".to_string();
        let err = render(&letter).unwrap_err();
        assert!(matches!(
            err,
            LetterError::UnsupportedCharacter {
                field: "seat_city",
                ch: '東'
            }
        ));
        assert!(err.to_string().contains("U+6771"), "{err}");
    }

    #[test]
    fn optional_fields_may_be_empty_and_whitespace_is_collapsed() {
        let mut letter = sample();
        letter.person_name = String::new();
        letter.organisation_ico = String::new();
        letter.applications = vec![];
        letter.mpsv_client_id = String::new();
        letter.seat_postcode = String::new();
        letter.organisation_name = "Šťastná\n rodina,\tz. s.".to_string();
        let text = pdftotext(&render(&letter).unwrap());
        assert!(text.contains("Šťastná rodina, z. s."), "{text}");
        assert!(text.contains("q7Vt2LmX9pKr4sWz"), "{text}");
        assert!(!text.contains("rukám"), "{text}");
        assert!(!text.contains("IČO"), "{text}");
        assert!(!text.contains("Identifikátor klienta"), "{text}");
        assert!(!text.contains("těmto aplikacím"), "{text}");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let debug = format!("{:?}", sample());
        assert!(!debug.contains("q7Vt2LmX9pKr4sWz"));
        assert!(debug.contains("rehor.zdarsky"));
    }
}
