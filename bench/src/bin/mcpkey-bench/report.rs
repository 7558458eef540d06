//! The results: markdown tables, one per scenario group, and the targets
//! with their verdicts.

use std::fmt::Write as _;

/// One table.
pub struct Section {
    pub title: String,
    pub note: String,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// One target from the performance issue and how this run did.
pub struct Target {
    pub what: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Default)]
pub struct Report {
    /// A smoke run: too few calls for the targets to be judged.
    pub quick: bool,
    pub sections: Vec<Section>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn section(&mut self, title: &str, note: &str, header: Vec<&'static str>) -> &mut Section {
        self.sections.push(Section {
            title: title.into(),
            note: note.into(),
            header,
            rows: Vec::new(),
        });
        self.sections.last_mut().expect("just pushed")
    }

    pub fn target(&mut self, what: impl Into<String>, measured: impl Into<String>, met: bool) {
        let t = Target {
            what: what.into(),
            measured: measured.into(),
            met,
        };
        eprintln!(
            "target: {} — {} — {}",
            t.what,
            t.measured,
            if t.met { "met" } else { "MISSED" }
        );
        self.targets.push(t);
    }

    pub fn note(&mut self, n: impl Into<String>) {
        let n = n.into();
        eprintln!("note: {n}");
        self.notes.push(n);
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for s in &self.sections {
            let _ = writeln!(out, "### {}\n", s.title);
            if !s.note.is_empty() {
                let _ = writeln!(out, "{}\n", s.note);
            }
            let _ = writeln!(out, "| {} |", s.header.join(" | "));
            let _ = writeln!(
                out,
                "|{}|",
                s.header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
            );
            for r in &s.rows {
                let _ = writeln!(out, "| {} |", r.join(" | "));
            }
            out.push('\n');
        }
        if !self.targets.is_empty() {
            if self.quick {
                let _ = writeln!(
                    out,
                    "### Targets (quick smoke run: too few calls to judge them; run without --quick)\n"
                );
            } else {
                let _ = writeln!(out, "### Targets\n");
            }
            let _ = writeln!(out, "| target | measured | |");
            let _ = writeln!(out, "|---|---|---|");
            for t in &self.targets {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    t.what,
                    t.measured,
                    if t.met { "met" } else { "**missed**" }
                );
            }
            out.push('\n');
        }
        for n in &self.notes {
            let _ = writeln!(out, "- {n}");
        }
        out
    }
}

pub fn f0(x: f64) -> String {
    let s = format!("{:.0}", x);
    // thousands separators
    let (neg, digits) = s
        .strip_prefix('-')
        .map(|d| (true, d))
        .unwrap_or((false, s.as_str()));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg { format!("-{out}") } else { out }
}

pub fn f2(x: f64) -> String {
    format!("{x:.2}")
}

pub fn us(d: std::time::Duration) -> String {
    f0(d.as_secs_f64() * 1e6)
}

pub fn ms(d: std::time::Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}
