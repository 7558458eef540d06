//! Printing results for people (default) or machines (`--json`).

#![allow(deprecated)] // Logging is deprecated in 2026-07-28 but still served.

use mcpkey::model::{
    CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate, Tool,
};
use serde_json::{Value, json};

/// Prints an error on stderr (human or JSON) with its hint.
pub fn print_error(json_mode: bool, err: &mcpkey::Error) {
    if json_mode {
        let v = json!({"error": {
            "server": err.server(),
            "step": err.step(),
            "message": err.to_string(),
            "hint": err.hint(),
            "exit_code": err.exit_code(),
        }});
        eprintln!("{v}");
    } else {
        eprintln!("error: {err}");
        if let Some(h) = err.hint() {
            eprintln!("  hint: {h}");
        }
    }
}

/// Prints a plain message error.
pub fn print_message_error(json_mode: bool, msg: &str, code: u8) {
    if json_mode {
        eprintln!("{}", json!({"error": {"message": msg, "exit_code": code}}));
    } else {
        eprintln!("error: {msg}");
    }
}

fn one_line(s: Option<&str>, width: usize) -> String {
    let s = s.unwrap_or("").split('\n').next().unwrap_or("").trim();
    if s.chars().count() > width {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 40)
}

pub fn tools(tools: &[Tool]) {
    let w = name_width(tools.iter().map(|t| t.name.as_ref()));
    for t in tools {
        println!(
            "  {:<w$}  {}",
            t.name,
            one_line(t.description.as_deref(), 90)
        );
    }
    if tools.is_empty() {
        println!("  (no tools)");
    }
}

pub fn resources(items: &[Resource]) {
    let w = name_width(items.iter().map(|r| r.uri.as_str()));
    for r in items {
        let label = r.title.as_deref().unwrap_or(&r.name);
        println!("  {:<w$}  {}", r.uri, one_line(Some(label), 80));
    }
    if items.is_empty() {
        println!("  (no resources)");
    }
}

pub fn templates(items: &[ResourceTemplate]) {
    let w = name_width(items.iter().map(|r| r.uri_template.as_str()));
    for r in items {
        println!("  {:<w$}  {}", r.uri_template, one_line(Some(&r.name), 80));
    }
    if items.is_empty() {
        println!("  (no resource templates)");
    }
}

pub fn prompts(items: &[Prompt]) {
    let w = name_width(items.iter().map(|p| p.name.as_str()));
    for p in items {
        let args = p
            .arguments
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        if x.required == Some(true) {
                            x.name.clone()
                        } else {
                            format!("[{}]", x.name)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        println!(
            "  {:<w$}  {}  {}",
            p.name,
            args,
            one_line(p.description.as_deref(), 70)
        );
    }
    if items.is_empty() {
        println!("  (no prompts)");
    }
}

/// Prints content blocks (tool results, prompt messages) as text.
fn content_value(v: &Value) {
    match v.get("type").and_then(Value::as_str) {
        Some("text") => println!("{}", v.get("text").and_then(Value::as_str).unwrap_or("")),
        Some(kind @ ("image" | "audio")) => {
            let mime = v.get("mimeType").and_then(Value::as_str).unwrap_or("?");
            let len = v
                .get("data")
                .and_then(Value::as_str)
                .map_or(0, |d| d.len() * 3 / 4);
            println!("[{kind}: {mime}, about {len} bytes]");
        }
        Some("resource") => {
            let r = v.get("resource").cloned().unwrap_or(Value::Null);
            let uri = r.get("uri").and_then(Value::as_str).unwrap_or("?");
            println!("[resource {uri}]");
            if let Some(t) = r.get("text").and_then(Value::as_str) {
                println!("{t}");
            }
        }
        Some("resource_link") => {
            let uri = v.get("uri").and_then(Value::as_str).unwrap_or("?");
            println!("[link {uri}]");
        }
        _ => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
    }
}

pub fn call_result(r: &CallToolResult) {
    let v = serde_json::to_value(r).unwrap_or(Value::Null);
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in &content {
        content_value(c);
    }
    if content.is_empty()
        && let Some(s) = &r.structured_content
    {
        println!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
    }
}

pub fn read_result(r: &ReadResourceResult) {
    let v = serde_json::to_value(r).unwrap_or(Value::Null);
    for c in v
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = c.get("text").and_then(Value::as_str) {
            println!("{t}");
        } else if let Some(b) = c.get("blob").and_then(Value::as_str) {
            let mime = c.get("mimeType").and_then(Value::as_str).unwrap_or("?");
            println!("[blob: {mime}, about {} bytes]", b.len() * 3 / 4);
        }
    }
}

pub fn prompt_result(r: &GetPromptResult) {
    if let Some(d) = &r.description {
        println!("# {d}");
    }
    let v = serde_json::to_value(r).unwrap_or(Value::Null);
    for m in v
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("?");
        println!("[{role}]");
        if let Some(c) = m.get("content") {
            content_value(c);
        }
    }
}

/// One server's OAuth account, without any token.
pub fn account(st: &mcpkey::AccountStatus) {
    if !st.logged_in {
        println!("  not logged in (resource {})", st.resource);
        return;
    }
    println!("  issuer:  {}", st.issuer.as_deref().unwrap_or("?"));
    if let Some(s) = &st.scope {
        println!("  scopes:  {s}");
    }
    let expiry = match st.expires_at {
        None => "unknown".to_owned(),
        Some(_) if st.expired => "expired".to_owned(),
        Some(t) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let mins = t.saturating_sub(now) / 60;
            format!("in {} h {} min", mins / 60, mins % 60)
        }
    };
    println!(
        "  expires: {expiry}{}",
        if st.refreshable { " (refreshable)" } else { "" }
    );
}
