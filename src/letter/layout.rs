//! The page: geometry (A4, DIN 5008 form B window), the canvas the text and shapes are drawn
//! on, the body flow, the frame (header, address, reference, fold marks, footer) and the
//! layout of the body at one font size.

use super::*;

// Page geometry, millimetres measured from the top-left corner of the page.
pub(super) const PAGE_W: f32 = 210.0;
pub(super) const PAGE_H: f32 = 297.0;
pub(super) const LEFT: f32 = 25.0;
pub(super) const RIGHT: f32 = 190.0;
pub(super) const TEXT_W: f32 = RIGHT - LEFT;
/// Address field of a DL window envelope (DIN 5008 form B): 20–110 mm across, 45–90 mm down;
/// we keep 25 mm from the left and stay above 85 mm.
pub(super) const WINDOW_LEFT: f32 = LEFT;
pub(super) const WINDOW_W: f32 = 80.0;
pub(super) const WINDOW_TOP: f32 = 45.0;
pub(super) const WINDOW_BOTTOM: f32 = 85.0;
/// Right-hand column beside the window: reference and date.
pub(super) const META_LEFT: f32 = 122.0;
/// Lowest baseline body text may use (the footer sits below it).
pub(super) const BODY_BOTTOM: f32 = 276.0;
pub(super) const FOOTER_BASELINE: f32 = 287.0;
pub(super) const PT_TO_MM: f32 = 25.4 / 72.0;

/// Body font sizes tried in turn until the letter fits on one page.
pub(super) const BODY_SIZES: [f32; 4] = [10.0, 9.5, 9.0, 8.5];

/// Content of the page: background shapes first, then text on top.
pub(super) struct Canvas<'a> {
    pub(super) fonts: &'a Fonts,
    pub(super) background: Vec<Op>,
    pub(super) foreground: Vec<Op>,
}

pub(super) fn point(x_mm: f32, y_mm_from_top: f32) -> Point {
    Point {
        x: Mm(x_mm).into(),
        y: Mm(PAGE_H - y_mm_from_top).into(),
    }
}

pub(super) fn grey(level: f32) -> Color {
    Color::Greyscale(Greyscale::new(level, None))
}

impl<'a> Canvas<'a> {
    pub(super) fn new(fonts: &'a Fonts) -> Self {
        Self {
            fonts,
            background: Vec::new(),
            foreground: Vec::new(),
        }
    }

    /// One line of text with its baseline `y` mm from the top of the page.
    pub(super) fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        self.text_coloured(face, size, x, y, text, 0.0);
    }

    pub(super) fn text_coloured(
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

    pub(super) fn text_right(
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

    pub(super) fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness_pt: f32, grey_level: f32) {
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
    pub(super) fn fill_rect(&mut self, x: f32, top: f32, w: f32, h: f32, grey_level: f32) {
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

    pub(super) fn into_ops(self) -> Vec<Op> {
        let mut ops = self.background;
        ops.extend(self.foreground);
        ops
    }
}

/// Body text flow: a cursor moving down the page.
pub(super) struct Flow<'a, 'b> {
    pub(super) canvas: &'b mut Canvas<'a>,
    pub(super) size: f32,
    pub(super) line_h: f32,
    /// Baseline of the last line written.
    pub(super) y: f32,
}

impl Flow<'_, '_> {
    /// Moves the cursor down by `lines` line heights and returns the new baseline.
    pub(super) fn advance(&mut self, lines: f32) -> Result<f32, LetterError> {
        self.y += lines * self.line_h;
        if self.y > BODY_BOTTOM {
            return Err(LetterError::DoesNotFit);
        }
        Ok(self.y)
    }

    /// A wrapped paragraph at `x`, `width` wide, starting on the next line.
    pub(super) fn paragraph(
        &mut self,
        face: Face,
        x: f32,
        width: f32,
        text: &str,
    ) -> Result<(), LetterError> {
        let lines = self.canvas.fonts.wrap(face, self.size, text, width);
        for line in lines {
            let y = self.advance(1.0)?;
            self.canvas.text(face, self.size, x, y, &line);
        }
        Ok(())
    }

    /// A list item: `marker` at `x`, the text wrapped in a column starting at `x + indent`.
    pub(super) fn item(
        &mut self,
        marker: &str,
        x: f32,
        indent: f32,
        text: &str,
    ) -> Result<(), LetterError> {
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

    pub(super) fn gap(&mut self, lines: f32) -> Result<(), LetterError> {
        self.advance(lines).map(|_| ())
    }
}

/// Header, window address block, reference/date column, fold marks and footer: everything
/// outside the body flow. Returns the baseline below which the body may start.
pub(super) fn draw_frame(canvas: &mut Canvas<'_>, f: &Fields) -> f32 {
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
pub(super) fn draw_address(canvas: &mut Canvas<'_>, f: &Fields, first_baseline: f32) {
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

pub(super) fn layout(f: &Fields, fonts: &Fonts, size: f32) -> Result<Vec<Op>, LetterError> {
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
