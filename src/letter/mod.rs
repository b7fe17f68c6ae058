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

mod fonts;
mod layout;

use std::fmt;

use fonts::*;
use layout::*;

use printpdf::{
    Color, DateTime, FontId, Greyscale, Line, LinePoint, Mm, Op, PaintMode, ParsedFont,
    PdfDocument, PdfFontHandle, PdfPage, PdfParseErrorSeverity, PdfSaveOptions, Point, Pt, Rect,
    TextItem,
};

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
