//! The status page (`check --format html`): one self-contained HTML file an operator
//! would rather look at than a terminal — the verdict, the boot chain as `plan` draws it
//! with whether each link comes back, what to fix first with a command to copy, then
//! every subject, folded when all of it passes.
//!
//! Self-contained and inert: inline CSS (allowed by its hash in the page's own
//! Content-Security-Policy), no JavaScript, no fonts, images, links or requests of any
//! kind, so it works on a host with no internet and behind the strictest CSP. Everything
//! from the host is HTML-escaped (control characters shown as escapes), so a hostile app
//! or unit name is text, never markup. Marks (✔ ✘ ! ?) and words carry the verdict, not
//! colour alone. Pure: `&Report` and `&Plan` in, text out.

use std::fmt::Write as _;

use super::group::by_subject;
use super::plan::{Plan, Verdict};
use super::{Report, Summary};
use crate::verdict::{Finding, Status, SubjectPrediction};

/// The page's style sheet. Its hash is in [`STYLE_HASH`]: change one, change the other
/// (a unit test holds them together).
pub(crate) const STYLE: &str = r#"
:root{--ok:#1a7f37;--fail:#c62828;--warn:#9a6700;--error:#6f42c1;--skip:#6e7781;--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--ok:#3fb950;--fail:#ff7b72;--warn:#d29922;--error:#bc8cff;--skip:#8b949e;--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;--soft:#151b23}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);max-width:72rem;margin-inline:auto}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
header{border:2px solid var(--line);border-radius:.5rem;padding:.8rem 1rem}
header.fail{border-color:var(--fail)}header.error{border-color:var(--error)}header.warn{border-color:var(--warn)}header.pass{border-color:var(--ok)}
.lead{font-size:1.15rem;font-weight:600;margin:.3rem 0}
dl.meta{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;margin:.4rem 0;color:var(--muted)}dl.meta div{display:flex;gap:.4rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.m{display:inline-block;width:1.3em;text-align:center;font-weight:700}
.pass>.m,.m.pass{color:var(--ok)}.fail>.m,.m.fail{color:var(--fail)}.warn>.m,.m.warn{color:var(--warn)}.error>.m,.m.error{color:var(--error)}.skip>.m,.m.skip{color:var(--skip)}
.word{font-weight:700;text-transform:uppercase;letter-spacing:.04em;font-size:.8em;padding:.05em .4em;border:1px solid currentColor;border-radius:.3em}
ol.chain,ol.chain ol{list-style:none;margin:0;padding-left:1.1rem;border-left:2px solid var(--line)}ol.chain{padding-left:.6rem}
ol.chain li{margin:.25rem 0;overflow-wrap:anywhere}ol.chain li.fail>span.name,ol.chain li.error>span.name{font-weight:700}
.why{color:var(--muted)}
pre.fix{margin:.3rem 0 .6rem;padding:.5rem .7rem;background:var(--soft);border:1px solid var(--line);border-radius:.35rem;white-space:pre-wrap;overflow-wrap:anywhere;user-select:all;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
ul.first{list-style:none;padding:0;margin:0}ul.first>li{border-left:4px solid var(--fail);padding:.2rem .7rem;margin:.6rem 0}ul.first>li.error{border-color:var(--error)}ul.first>li.warn{border-color:var(--warn)}
details{border:1px solid var(--line);border-radius:.4rem;margin:.4rem 0;padding:.3rem .6rem}details[open]{padding-bottom:.6rem}
summary{cursor:pointer;overflow-wrap:anywhere}summary .sub{font-weight:600}summary .fate{color:var(--muted);margin-left:.5rem}
table{border-collapse:collapse;width:100%;margin-top:.4rem}td{vertical-align:top;padding:.25rem .4rem;border-top:1px solid var(--line);overflow-wrap:anywhere}td.id{white-space:nowrap;font:13px ui-monospace,Menlo,Consolas,monospace}
@media (max-width:40rem){td.id{white-space:normal}table,tbody,tr,td{display:block}tr{border-top:1px solid var(--line);padding:.2rem 0}td{border:0;padding:.1rem .2rem}}
footer{margin-top:2rem;color:var(--muted);font-size:.85em}
"#;

/// `'sha256-…'` of [`STYLE`]: the page's CSP allows exactly this style sheet and nothing
/// else, and a server can send the same policy as a header.
pub(crate) const STYLE_HASH: &str = "sha256-50rFJ2hbH02a/SIReXGV1fX1qA2Fzi6DLB6bc8s7q90=";

/// The page's Content-Security-Policy: nothing may load, nothing may run; only its own
/// style sheet applies.
pub(crate) fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src '{STYLE_HASH}'; img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Renders the status page for `report`, with the boot chain of `plan` (built from the
/// same judgement).
pub(crate) fn render(report: &Report, plan: &Plan) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let host = report.host.hostname.as_deref().unwrap_or("unknown host");
    let status = report.summary.status;
    let lost = lost_count(report);
    let total = report.subjects.len();
    let lead = lead_sentence(report, lost, total);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{} {}: {} — bootproof</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&content_security_policy()),
        mark(status),
        esc(host),
        esc(&lead)
    );
    header(&mut out, report, &lead);
    out.push_str("<main>\n");
    fix_first(&mut out, report, plan);
    boot_chain(&mut out, plan);
    subjects(&mut out, report);
    out.push_str("</main>\n");
    let _ = writeln!(
        out,
        "<footer>bootproof {} · {} · the same verdict as <code>bootproof check --format json</code></footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        esc(&report.schema)
    );
    out
}

/// How many units and PM2 homes (or apps in them) do not come back.
fn lost_count(report: &Report) -> usize {
    report.subjects.iter().filter(|p| !p.all_come_back()).count()
}

/// `3 of 7 services do not come back after a reboot`, or that all do.
fn lead_sentence(report: &Report, lost: usize, total: usize) -> String {
    match (lost, total, report.summary.status) {
        (_, 0, _) => "no node service or PM2 home found".to_owned(),
        (0, total, Status::Pass) => format!("all {total} services come back after a reboot"),
        (0, total, _) => format!("all {total} services come back after a reboot; some checks need a look"),
        (1, total, _) => format!("1 of {total} services does not come back after a reboot"),
        (lost, total, _) => format!("{lost} of {total} services do not come back after a reboot"),
    }
}

/// The mark for a status, as the human report draws it.
fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "✔",
        Status::Fail => "✘",
        Status::Warn => "!",
        Status::Skip => "-",
        Status::Error => "?",
    }
}

/// The top of the page: host, verdict, boot and when this check ran, the counts.
fn header(out: &mut String, report: &Report, lead: &str) {
    let status = report.summary.status;
    let host = &report.host;
    let known = |value: &Option<String>| esc(value.as_deref().unwrap_or("unknown"));
    let _ = writeln!(
        out,
        "<header class=\"{status}\">\n<h1><span class=\"m {status}\">{}</span> {} <span class=\"word {status}\">{status}</span></h1>\n\
         <p class=\"lead\">{}</p>\n<dl class=\"meta\"><div><dt>boot</dt><dd>{}</dd></div><div><dt>booted</dt><dd>{}</dd></div>\
         <div><dt>checked</dt><dd>{}</dd></div><div><dt>system</dt><dd>{}</dd></div></dl>\n<p>{}</p>\n</header>",
        mark(status),
        known(&host.hostname),
        esc(lead),
        known(&host.boot_id),
        known(&host.booted_at),
        known(&host.checked_at),
        known(&host.system_state),
        esc(&counts(&report.summary)),
    );
}

/// `10 failed · 6 warnings · 50 passed · 3 skipped · 0 errors`.
fn counts(summary: &Summary) -> String {
    [
        (summary.fail, "failed", "failed"),
        (summary.warn, "warning", "warnings"),
        (summary.pass, "passed", "passed"),
        (summary.skip, "skipped", "skipped"),
        (summary.error, "error", "errors"),
    ]
    .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
    .join(" · ")
}

/// A command to copy.
fn fix_block(out: &mut String, fix: &str) {
    let _ = writeln!(out, "<pre class=\"fix\"><code>{}</code></pre>", esc(fix));
}

/// What to fix first: every link of the boot chain that does not come back, then every
/// other failure and error, each with its fix.
fn fix_first(out: &mut String, report: &Report, plan: &Plan) {
    let mut items: Vec<(Status, String, String, Option<&str>)> = Vec::new();
    for unit in plan.units.iter().filter(|u| !u.verdict.comes_back) {
        items.push(lost_item(&unit.name, &unit.verdict));
    }
    for home in &plan.pm2 {
        if !home.daemon.comes_back {
            items.push(lost_item(&format!("PM2 of {}", home.home), &home.daemon));
        } else {
            for app in home.apps.iter().filter(|a| !a.verdict.comes_back) {
                items.push(lost_item(&format!("{} in {}", app.name, home.home), &app.verdict));
            }
        }
    }
    // Failures and errors the chain does not show (a health endpoint, the host, a crash loop).
    for finding in report.results.iter().filter(|f| matches!(f.status, Status::Fail | Status::Error)) {
        let shown = items.iter().any(|(_, _, why, _)| why == &finding.message);
        if !shown && !finding.check.is_boot_critical() {
            items.push((
                finding.status,
                format!("{} · {}", finding.subject, finding.check),
                finding.message.clone(),
                finding.remediation.as_deref(),
            ));
        }
    }
    if items.is_empty() {
        return;
    }
    out.push_str("<section id=\"fix-first\">\n<h2>Fix first</h2>\n<ul class=\"first\">\n");
    for (status, what, why, fix) in items {
        let _ = writeln!(
            out,
            "<li class=\"{status}\"><span class=\"m {status}\">{}</span> <strong>{}</strong> <span class=\"why\">— {}</span>",
            mark(status),
            esc(&what),
            esc(&why)
        );
        if let Some(fix) = fix {
            fix_block(out, fix);
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n</section>\n");
}

/// One broken link for [`fix_first`].
fn lost_item<'a>(what: &str, verdict: &'a Verdict) -> (Status, String, String, Option<&'a str>) {
    (
        Status::Fail,
        format!("{what} does not come back"),
        verdict.reason.clone().unwrap_or_else(|| "does not come back".to_owned()),
        verdict.fix.as_deref(),
    )
}

/// `<span class="m pass">✔</span> comes back` for a link.
fn link_fate(verdict: &Verdict) -> String {
    if verdict.comes_back {
        "<span class=\"m pass\">✔</span> comes back".to_owned()
    } else {
        format!(
            "<span class=\"m fail\">✘</span> does not come back <span class=\"why\">— {}</span>",
            esc(verdict.reason.as_deref().unwrap_or(""))
        )
    }
}

/// The boot chain, as `plan` draws it.
fn boot_chain(out: &mut String, plan: &Plan) {
    out.push_str("<section id=\"boot-chain\">\n<h2>Boot chain</h2>\n");
    let target = plan.default_target.as_deref().unwrap_or("default.target");
    if plan.units.is_empty() && plan.pm2.is_empty() {
        let _ = writeln!(out, "<p>systemd → {}: no node service and no PM2 home found</p>", esc(target));
    }
    if !plan.units.is_empty() {
        let _ = writeln!(out, "<ol class=\"chain\"><li>systemd → <strong>{}</strong>\n<ol>", esc(target));
        for unit in &plan.units {
            let class = if unit.verdict.comes_back { "pass" } else { "fail" };
            let _ = writeln!(
                out,
                "<li class=\"{class}\"><span class=\"name\">{}</span> <span class=\"why\">({}, {})</span> {}</li>",
                esc(&unit.name),
                esc(&unit.unit_file_state),
                esc(&unit.active_state),
                link_fate(&unit.verdict)
            );
        }
        out.push_str("</ol></li></ol>\n");
    }
    for home in &plan.pm2 {
        let unit = home.unit.as_ref().map_or_else(
            || "no PM2 unit".to_owned(),
            |u| format!("{} ({}, {})", u.name, u.unit_file_state, u.active_state),
        );
        let class = if home.daemon.comes_back { "pass" } else { "fail" };
        let _ = writeln!(
            out,
            "<ol class=\"chain\"><li class=\"{class}\">systemd → <span class=\"name\">{}</span> → pm2 resurrect → {} {}\n<ol>",
            esc(&unit),
            esc(&home.dump),
            link_fate(&home.daemon)
        );
        if home.apps.is_empty() {
            out.push_str("<li class=\"skip\">no app running or saved</li>\n");
        }
        for app in &home.apps {
            let verdict = if home.daemon.comes_back {
                app.verdict.clone()
            } else {
                Verdict { comes_back: false, reason: Some("PM2 itself does not come back".to_owned()), fix: None }
            };
            let class = if verdict.comes_back { "pass" } else { "fail" };
            let times = if app.online > 1 || app.saved > 1 {
                format!(" ×{}", app.online.max(app.saved))
            } else {
                String::new()
            };
            let state = if app.online > 0 { "online" } else { "down" };
            let _ = writeln!(
                out,
                "<li class=\"{class}\"><span class=\"name\">{}{}</span> <span class=\"why\">({state})</span> {}</li>",
                esc(&app.name),
                esc(&times),
                link_fate(&verdict)
            );
        }
        out.push_str("</ol></li></ol>\n");
    }
    out.push_str("</section>\n");
}

/// Every subject: open when something in it needs a look, folded when all passes.
fn subjects(out: &mut String, report: &Report) {
    out.push_str("<section id=\"subjects\">\n<h2>Every check</h2>\n");
    let mut groups = by_subject(&report.results);
    // What needs a look first, then the rest, each in report order.
    groups.sort_by_key(|g| !g.findings.iter().any(|f| f.status.needs_attention()));
    for group in groups {
        let worst = worst(&group.findings);
        let open = if worst.needs_attention() { " open" } else { "" };
        let pass = group.findings.iter().filter(|f| f.status == Status::Pass).count();
        let fate = report.prediction(group.subject).map(fate).unwrap_or_default();
        let _ = writeln!(
            out,
            "<details class=\"{worst}\"{open}><summary><span class=\"m {worst}\">{}</span> <span class=\"sub\">{}</span><span class=\"fate\">{} {pass} of {} checks pass</span></summary>\n<table>",
            mark(worst),
            esc(&group.subject.to_string()),
            esc(&fate),
            group.findings.len()
        );
        for finding in &group.findings {
            finding_row(out, finding);
        }
        out.push_str("</table>\n</details>\n");
    }
    out.push_str("</section>\n");
}

/// `comes back ·`, `does not come back (unit.user) ·` for a summary line.
fn fate(prediction: &SubjectPrediction) -> String {
    match &prediction.prediction.blocked_by {
        Some(blocker) => format!("does not come back ({}) ·", blocker.check),
        None if !prediction.all_come_back() => "comes back, not every app ·".to_owned(),
        None => "comes back ·".to_owned(),
    }
}

/// The worst status among findings: error, fail, warn, then pass (skips count as pass).
fn worst(findings: &[&Finding]) -> Status {
    let rank = |s: Status| match s {
        Status::Error => 4,
        Status::Fail => 3,
        Status::Warn => 2,
        Status::Pass => 1,
        Status::Skip => 0,
    };
    findings.iter().map(|f| f.status).max_by_key(|s| rank(*s)).map_or(Status::Pass, |s| match s {
        Status::Skip => Status::Pass,
        other => other,
    })
}

/// One finding as a table row, its fix below the message.
fn finding_row(out: &mut String, finding: &Finding) {
    let status = finding.status;
    let _ = write!(
        out,
        "<tr class=\"{status}\"><td class=\"{status}\"><span class=\"m\">{}</span></td><td class=\"id\">{}</td><td>{}",
        mark(status),
        esc(finding.check.as_str()),
        esc(&finding.message)
    );
    if status != Status::Pass
        && let Some(fix) = &finding.remediation
    {
        fix_block(out, fix);
    }
    out.push_str("</td></tr>\n");
}

/// `text` made safe inside HTML text and attribute values: `& < > " '` as entities, and
/// control characters (other than newline and tab) as visible `\u{…}` escapes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::facts::Facts;
    use crate::invariants::{evaluate, fixtures};
    use crate::report::{HostSummary, plan};

    fn page(facts: &Facts) -> String {
        let judgement = evaluate(facts, &CheckConfig::default());
        let plan = plan::build(facts, &judgement);
        render(&Report::new(HostSummary::of(facts), judgement), &plan)
    }

    /// The page with its (constant) style sheet left out, so a snapshot shows the markup.
    fn markup(facts: &Facts) -> String {
        page(facts).replace(STYLE, "/* STYLE, see the_style_hash_is_the_hash_of_the_style */")
    }

    #[test]
    fn defects_host_page_snapshot() {
        insta::assert_snapshot!(markup(&fixtures::defects()));
    }

    #[test]
    fn incident_host_page_snapshot() {
        insta::assert_snapshot!(markup(&fixtures::pm2_incident()));
    }

    #[test]
    fn the_page_asks_for_nothing_and_runs_nothing() {
        for text in [page(&fixtures::defects()), page(&fixtures::pm2_fixed())] {
            for forbidden in
                ["<script", "<link", "<img", "<iframe", "<object", "<embed", "src=", "href=", "url(", "@import"]
            {
                assert!(!text.contains(forbidden), "{forbidden} in the page");
            }
            assert!(text.contains(&format!("content=\"{}\"", esc(&content_security_policy()))));
        }
    }

    #[test]
    fn the_style_hash_is_the_hash_of_the_style() {
        let digest = sha256(STYLE.as_bytes());
        assert_eq!(STYLE_HASH, format!("sha256-{}", base64(&digest)));
        // The nginx snippet sends the same policy as a header.
        let snippet = include_str!("../../contrib/nginx/bootproof-status.conf");
        assert!(snippet.contains(&format!("style-src '{STYLE_HASH}'")), "contrib/nginx has another style hash");
    }

    #[test]
    fn hostile_names_arrive_as_text() {
        let mut facts = fixtures::pm2_fixed();
        let hostile = "<img src=x onerror=alert(1)>\"'&\u{1b}[2J";
        if let crate::facts::Fact::Ok(crate::facts::RpcAnswer::Apps { apps }) = &mut facts.pm2[0].daemon.rpc {
            apps[0].name = hostile.to_owned();
        }
        let text = page(&facts);
        assert!(!text.contains("<img"), "markup from the host reached the page");
        assert!(!text.contains('\u{1b}'), "a control character reached the page");
        assert!(text.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;\\u{1b}[2J"), "{text}");
    }

    #[test]
    fn a_good_host_folds_every_subject_and_says_all_come_back() {
        let text = page(&fixtures::all_good());
        assert!(text.contains("all 4 services come back after a reboot"), "{text}");
        assert!(!text.contains("<details class=\"pass\" open"), "a passing subject is folded");
        assert!(!text.contains("id=\"fix-first\""), "nothing to fix");
    }

    /// SHA-256 (FIPS 180-4), for the style hash test only.
    fn sha256(data: &[u8]) -> [u8; 32] {
        const K: [u32; 64] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
            0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
            0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
            0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
            0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
            0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
            0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2,
        ];
        let mut h: [u32; 8] =
            [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
        let mut message = data.to_vec();
        message.push(0x80);
        while message.len() % 64 != 56 {
            message.push(0);
        }
        message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
        for block in message.chunks(64) {
            let mut w = [0u32; 64];
            for (i, word) in block.chunks(4).enumerate() {
                w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            }
            for i in 16..64 {
                let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
            }
            let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
            for i in 0..64 {
                let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
                let ch = (e & f) ^ (!e & g);
                let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
                let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
                let maj = (a & b) ^ (a & c) ^ (b & c);
                let t2 = s0.wrapping_add(maj);
                hh = g;
                g = f;
                f = e;
                e = d.wrapping_add(t1);
                d = c;
                c = b;
                b = a;
                a = t1.wrapping_add(t2);
            }
            for (slot, value) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
                *slot = slot.wrapping_add(value);
            }
        }
        let mut out = [0u8; 32];
        for (i, word) in h.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn the_test_hash_is_sha256() {
        assert_eq!(base64(&sha256(b"abc")), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }
}
