//! Running each subcommand against the library.

use std::time::Duration;

use futures_util::future::join_all;
use mcpkey::{AcceptDefaults, Client, Config, Error, Session};
use serde_json::{Map, Value, json};

use crate::args::{AuthCommand, Cli, Command};
use crate::output;

/// Exit code for a tool that returned `isError`.
const EXIT_TOOL_ERROR: u8 = 5;

/// Runs the command; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    let config = match Config::discover(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            output::print_message_error(cli.json, &e.to_string(), 1);
            return 1;
        }
    };
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    if let Command::Servers = cli.command {
        return servers(&config, cli.json);
    }
    if let Some(t) = cli.timeout
        && !(t.is_finite() && t > 0.0)
    {
        output::print_message_error(
            cli.json,
            "--timeout must be a positive number of seconds",
            1,
        );
        return 1;
    }
    let mut builder = Client::builder().config(config);
    if cli.accept_defaults {
        builder = builder.elicitation(AcceptDefaults);
    }
    // Interactive logins only for people: `mcpkey login`, or any command
    // whose stderr is a terminal (someone sees the URL). --json and scripts
    // never wait for a browser: a server that needs a login then fails at
    // once with exit code 3 and the `mcpkey login` command to run.
    let person = matches!(cli.command, Command::Login { .. })
        || std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !cli.json && person {
        let open = !cli.no_open;
        builder = builder.login_ui(std::sync::Arc::new(
            move |req: &mcpkey::client::oauth::LoginRequest<'_>| {
                let key = mcpkey::auth::oauth::canonical_resource(req.url);
                let mut ui = mcpkey::login::LoopbackUi::new(&key)
                    .server_name(req.server)
                    .open_browser(open);
                if let Some(s) = req.settings {
                    if let Some(h) = &s.callback_host {
                        ui = ui.host(h.clone());
                    }
                    if let Some(p) = s.callback_port {
                        ui = ui.port(p);
                    }
                    if let Some(p) = &s.callback_path {
                        ui = ui.path(p.clone());
                    }
                    if let Some(t) = s.login_timeout {
                        ui = ui.timeout(t);
                    }
                }
                let ui: std::sync::Arc<dyn mcpkey::auth::oauth::AuthorizationUi> =
                    std::sync::Arc::new(ui);
                Some(ui)
            },
        ));
    }
    let client = builder.build();
    let ctx = Ctx {
        client: &client,
        json: cli.json,
        timeout: cli.timeout.map(Duration::from_secs_f64),
    };
    let code = match &cli.command {
        Command::Servers => 0,
        Command::Tools { server } => ctx.each(server.as_deref(), List::Tools).await,
        Command::Resources { server } => ctx.each(server.as_deref(), List::Resources).await,
        Command::Templates { server } => ctx.each(server.as_deref(), List::Templates).await,
        Command::Prompts { server } => ctx.each(server.as_deref(), List::Prompts).await,
        Command::Info { server } => ctx.each(server.as_deref(), List::Info).await,
        Command::Call { server, tool, args } => ctx.call(server, tool, args).await,
        Command::Read { server, uri } => ctx.read(server, uri).await,
        Command::Prompt { server, name, args } => ctx.prompt(server, name, args).await,
        Command::Login { server } => ctx.login(server).await,
        Command::Logout { server } => ctx.logout(server).await,
        Command::Auth {
            command: AuthCommand::Status { server },
        } => ctx.auth_status(server.as_deref()).await,
    };
    client.close().await;
    code
}

fn servers(config: &Config, json_mode: bool) -> u8 {
    let sums = config.summaries();
    if json_mode {
        println!(
            "{}",
            serde_json::to_string_pretty(&sums).unwrap_or_default()
        );
        return 0;
    }
    if let Some(p) = config.path() {
        println!("{}", p.display());
    }
    let w = sums.iter().map(|s| s.name.len()).max().unwrap_or(4).max(4);
    for s in &sums {
        let disabled = if s.disabled { "  (disabled)" } else { "" };
        println!(
            "  {:<w$}  {:<16}  {}{}",
            s.name, s.transport, s.target, disabled
        );
    }
    0
}

#[derive(Clone, Copy)]
enum List {
    Tools,
    Resources,
    Templates,
    Prompts,
    Info,
}

struct Ctx<'a> {
    client: &'a Client,
    json: bool,
    timeout: Option<Duration>,
}

impl Ctx<'_> {
    async fn session(&self, name: &str) -> Result<Session, Error> {
        self.client.session(name).await
    }

    fn fail(&self, e: &Error) -> u8 {
        output::print_error(self.json, e);
        e.exit_code()
    }

    /// Runs a listing on one server or on all of them concurrently, then
    /// prints the results in name order.
    async fn each(&self, server: Option<&str>, what: List) -> u8 {
        let names: Vec<String> = match server {
            Some(s) => vec![s.to_owned()],
            None => self.client.server_names().map(str::to_owned).collect(),
        };
        let single = server.is_some();
        let results = join_all(names.iter().map(|n| self.list_one(n, what))).await;
        let mut all = Map::new();
        let mut code = 0;
        for (name, r) in names.iter().zip(results) {
            match r {
                Ok(listing) => {
                    if !self.json {
                        listing.print(name);
                    }
                    all.insert(name.clone(), listing.value);
                }
                Err(e) => {
                    if matches!(e.kind(), mcpkey::ErrorKind::Disabled) && !single {
                        continue;
                    }
                    if code == 0 {
                        code = e.exit_code();
                    }
                    self.fail(&e);
                }
            }
        }
        if self.json {
            let v = if single {
                all.into_iter().next().map(|(_, v)| v)
            } else {
                Some(Value::Object(all))
            };
            if let Some(v) = v {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
        }
        code
    }

    async fn list_one(&self, name: &str, what: List) -> Result<Listing, Error> {
        let s = self.session(name).await?;
        let details = s.details().clone();
        let (value, kind) = match what {
            List::Tools => {
                let t = s.list_tools().await?;
                (json!(t), Printed::Tools(t))
            }
            List::Resources => {
                let r = s.list_resources().await?;
                (json!(r), Printed::Resources(r))
            }
            List::Templates => {
                let r = s.list_resource_templates().await?;
                (json!(r), Printed::Templates(r))
            }
            List::Prompts => {
                let p = s.list_prompts().await?;
                (json!(p), Printed::Prompts(p))
            }
            List::Info => (json!(details), Printed::Info),
        };
        Ok(Listing {
            details,
            value,
            kind,
        })
    }

    async fn call(&self, server: &str, tool: &str, raw_args: &[String]) -> u8 {
        let s = match self.session(server).await {
            Ok(s) => s,
            Err(e) => return self.fail(&e),
        };
        let schema = if raw_args.iter().any(|a| !a.trim_start().starts_with('{')) {
            match s.list_tools().await {
                Ok(tools) => tools
                    .into_iter()
                    .find(|t| t.name == tool)
                    .map(|t| (*t.input_schema).clone()),
                Err(e) => return self.fail(&e),
            }
        } else {
            None
        };
        let args = match parse_args(raw_args, schema.as_ref()) {
            Ok(a) => a,
            Err(msg) => {
                output::print_message_error(self.json, &msg, 1);
                return 1;
            }
        };
        let mut opts = mcpkey::CallOptions::default();
        if let Some(t) = self.timeout {
            opts = opts.timeout(t);
        }
        match s.call_tool_with(tool, args, opts).await {
            Ok(r) => {
                if self.json {
                    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                } else {
                    output::call_result(&r);
                }
                if r.is_error == Some(true) {
                    if !self.json {
                        eprintln!(
                            "error: the tool '{tool}' on '{server}' reported an error (isError)"
                        );
                    }
                    EXIT_TOOL_ERROR
                } else {
                    0
                }
            }
            Err(e) => self.fail(&e),
        }
    }

    async fn login(&self, server: &str) -> u8 {
        if self.json {
            output::print_message_error(
                true,
                &format!("logging in needs a person: run `mcpkey login {server}` without --json"),
                3,
            );
            return 3;
        }
        match self.client.login(server).await {
            Ok(mcpkey::LoginOutcome::LoggedIn(st)) => {
                println!("logged in to {server}");
                output::account(&st);
                0
            }
            Ok(_) => {
                println!("{server} did not ask for authentication; nothing to do");
                0
            }
            Err(e) => self.fail(&e),
        }
    }

    async fn logout(&self, server: &str) -> u8 {
        match self.client.logout(server).await {
            Ok(had) => {
                if self.json {
                    println!("{}", json!({"server": server, "removed": had}));
                } else if had {
                    println!("logged out of {server}: its tokens are deleted");
                } else {
                    println!("no stored tokens for {server}");
                }
                0
            }
            Err(e) => self.fail(&e),
        }
    }

    async fn auth_status(&self, server: Option<&str>) -> u8 {
        let names: Vec<String> = match server {
            Some(s) => vec![s.to_owned()],
            None => self
                .client
                .server_names()
                .filter(|n| {
                    self.client.server_config(n).is_ok_and(|(c, _)| {
                        matches!(c.target(), mcpkey::config::Target::Http { .. })
                    })
                })
                .map(str::to_owned)
                .collect(),
        };
        let mut out = Vec::new();
        let mut code = 0;
        for n in &names {
            match self.client.account_status(n).await {
                Ok(st) => out.push(st),
                Err(e) => {
                    code = code.max(e.exit_code());
                    self.fail(&e);
                }
            }
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        } else {
            for st in &out {
                println!("{}", st.server);
                output::account(st);
            }
        }
        code
    }

    async fn read(&self, server: &str, uri: &str) -> u8 {
        let s = match self.session(server).await {
            Ok(s) => s,
            Err(e) => return self.fail(&e),
        };
        match s.read_resource(uri).await {
            Ok(r) => {
                if self.json {
                    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                } else {
                    output::read_result(&r);
                }
                0
            }
            Err(e) => self.fail(&e),
        }
    }

    async fn prompt(&self, server: &str, name: &str, raw_args: &[String]) -> u8 {
        let s = match self.session(server).await {
            Ok(s) => s,
            Err(e) => return self.fail(&e),
        };
        // Prompt arguments are strings by definition.
        let string_schema = json!({"type": "object", "additionalProperties": {"type": "string"}});
        let args = match parse_args(raw_args, string_schema.as_object()) {
            Ok(a) => a,
            Err(msg) => {
                output::print_message_error(self.json, &msg, 1);
                return 1;
            }
        };
        match s.get_prompt(name, args).await {
            Ok(r) => {
                if self.json {
                    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                } else {
                    output::prompt_result(&r);
                }
                0
            }
            Err(e) => self.fail(&e),
        }
    }
}

/// The JSON type a schema gives property `key`, if it names one.
fn declared_type<'a>(schema: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a str> {
    let s = schema?;
    let prop = s
        .get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| s.get("additionalProperties"))?;
    match prop.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

enum Printed {
    Tools(Vec<mcpkey::model::Tool>),
    Resources(Vec<mcpkey::model::Resource>),
    Templates(Vec<mcpkey::model::ResourceTemplate>),
    Prompts(Vec<mcpkey::model::Prompt>),
    Info,
}

struct Listing {
    details: mcpkey::ServerDetails,
    value: Value,
    kind: Printed,
}

impl Listing {
    fn print(&self, name: &str) {
        let d = &self.details;
        let era = match d.era {
            mcpkey::Era::Modern => "modern",
            _ => "legacy",
        };
        println!("{name} ({}, {era} {})", d.transport, d.protocol_version);
        match &self.kind {
            Printed::Tools(t) => output::tools(t),
            Printed::Resources(r) => output::resources(r),
            Printed::Templates(r) => output::templates(r),
            Printed::Prompts(p) => output::prompts(p),
            Printed::Info => {
                if let Some(i) = &d.implementation {
                    println!("  server: {} {}", i.name, i.version);
                }
                let caps = serde_json::to_value(&d.capabilities).unwrap_or(Value::Null);
                let offers: Vec<&str> = caps
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                println!(
                    "  offers: {}",
                    if offers.is_empty() {
                        "-".to_owned()
                    } else {
                        offers.join(", ")
                    }
                );
                if let Some(ins) = &d.instructions {
                    println!("  instructions: {}", ins.lines().next().unwrap_or(""));
                }
            }
        }
    }
}

/// Turns `{"json": ...}` or `key=value` / `key:=json` arguments into an
/// object, typing plain values by the tool's schema.
pub(crate) fn parse_args(
    raw: &[String],
    schema: Option<&Map<String, Value>>,
) -> Result<Option<Map<String, Value>>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() == 1 && raw[0].trim_start().starts_with('{') {
        return match serde_json::from_str::<Value>(&raw[0]) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            Ok(_) => Err("the arguments must be a JSON object".into()),
            Err(e) => Err(format!("the arguments are not valid JSON: {e}")),
        };
    }
    let mut out = Map::new();
    for a in raw {
        if let Some((k, v)) = a.split_once(":=")
            && !k.contains('=')
        {
            let parsed = serde_json::from_str(v)
                .map_err(|e| format!("argument {k}: {v:?} is not valid JSON: {e}"))?;
            out.insert(k.to_owned(), parsed);
            continue;
        }
        let Some((k, v)) = a.split_once('=') else {
            return Err(format!(
                "argument {a:?} is not key=value (or pass one JSON object)"
            ));
        };
        if k.is_empty() {
            return Err(format!("argument {a:?} has an empty name"));
        }
        let value = match declared_type(schema, k) {
            Some("string") => Value::String(v.to_owned()),
            Some(t @ ("number" | "integer" | "boolean" | "object" | "array")) => {
                let parsed: Value = serde_json::from_str(v)
                    .map_err(|_| format!("argument {k} must be a {t}, got {v:?}"))?;
                parsed
            }
            _ => match serde_json::from_str::<Value>(v) {
                Ok(
                    j @ (Value::Number(_)
                    | Value::Bool(_)
                    | Value::Null
                    | Value::Object(_)
                    | Value::Array(_)),
                ) => j,
                _ => Value::String(v.to_owned()),
            },
        };
        out.insert(k.to_owned(), value);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn args_follow_the_schema() {
        let schema = json!({"properties": {"a": {"type": "number"}, "s": {"type": "string"}, "b": {"type": ["boolean", "null"]}}});
        let m = parse_args(
            &strs(&["a=1", "s=007", "b=true", "x=2", "y=hi", "j:=[1]"]),
            schema.as_object(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"a": 1, "s": "007", "b": true, "x": 2, "y": "hi", "j": [1]})
        );
        assert!(parse_args(&strs(&["a=one"]), schema.as_object()).is_err());
        assert!(parse_args(&strs(&["noequals"]), None).is_err());
        let m = parse_args(&strs(&[r#"{"k": 1}"#]), None).unwrap().unwrap();
        assert_eq!(m["k"], 1);
        assert!(parse_args(&strs(&["{bad"]), None).is_err());
        assert!(parse_args(&[], None).unwrap().is_none());
        let m = parse_args(&strs(&["url=http://x?a=b"]), None)
            .unwrap()
            .unwrap();
        assert_eq!(m["url"], "http://x?a=b");
    }
}
