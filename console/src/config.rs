//! Command line flags and libpq-style connection settings.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: pg_sharing_console [options]

Serves the sharing console on http://127.0.0.1:8432/ and connects to
PostgreSQL as your own login role: the database decides what you may change.

options:
  --listen ADDR:PORT   where to listen (default 127.0.0.1:8432; port 0 picks a free one)
  --public-host HOST   another Host name the browser uses to reach the console
                       (requests naming any other host are refused)
  -h, --host HOST      database host or socket directory (default $PGHOST, else /var/run/postgresql)
  -p, --port PORT      database port (default $PGPORT, else 5432)
  -U, --user USER      login role (default $PGUSER, else the OS user)
  -d, --dbname DB      database (default $PGDATABASE, else the login role's name)
  --help               this text

A password comes only from PGPASSWORD or ~/.pgpass (PGPASSFILE); the console
stores nothing on disk.
";

pub struct Settings {
    pub listen: String,
    pub public_host: Option<String>,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<String>,
}

pub enum Parsed {
    Run(Settings),
    Help,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    pub fn from_args(args: &[String]) -> Result<Parsed, String> {
        let mut listen = "127.0.0.1:8432".to_string();
        let mut public_host = None;
        let mut host = env("PGHOST");
        let mut port = env("PGPORT");
        let mut user = env("PGUSER");
        let mut dbname = env("PGDATABASE");
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            if flag == "--help" {
                return Ok(Parsed::Help);
            }
            let mut value = || -> Result<String, String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it.next().cloned().ok_or(format!("{flag} needs a value")),
                }
            };
            match flag {
                "--listen" => listen = value()?,
                "--public-host" => public_host = Some(value()?),
                "-h" | "--host" => host = Some(value()?),
                "-p" | "--port" => port = Some(value()?),
                "-U" | "--user" | "--username" => user = Some(value()?),
                "-d" | "--dbname" => dbname = Some(value()?),
                other => return Err(format!("unknown option {other}")),
            }
        }
        let port: u16 = match port {
            Some(p) => p.parse().map_err(|_| format!("invalid port {p:?}"))?,
            None => 5432,
        };
        let host = host.unwrap_or_else(|| "/var/run/postgresql".to_string());
        let user = match user.or_else(|| env("USER")).or_else(|| env("LOGNAME")) {
            Some(u) => u,
            None => return Err("no login role: set PGUSER or --user".to_string()),
        };
        let dbname = dbname.unwrap_or_else(|| user.clone());
        let password = env("PGPASSWORD")
            .or_else(|| pgpass_lookup(&pgpass_path(), &host, port, &dbname, &user));
        Ok(Parsed::Run(Settings {
            listen,
            public_host,
            host,
            port,
            user,
            dbname,
            password,
        }))
    }

    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("pg_sharing_console")
            // Schema-qualified names everywhere: regclass::text then matches
            // the table names of sharing.export_config().
            .options("-c search_path=pg_catalog,pg_temp")
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(p) = &self.password {
            c.password(p);
        }
        c
    }
}

fn pgpass_path() -> Option<PathBuf> {
    match env("PGPASSFILE") {
        Some(p) => Some(PathBuf::from(p)),
        None => env("HOME").map(|h| PathBuf::from(h).join(".pgpass")),
    }
}

/// The password of the first matching line of a .pgpass file
/// (host:port:database:username:password, `*` matches anything, `\` escapes).
fn pgpass_lookup(
    path: &Option<PathBuf>,
    host: &str,
    port: u16,
    db: &str,
    user: &str,
) -> Option<String> {
    let text = std::fs::read_to_string(path.as_ref()?).ok()?;
    // libpq says "localhost" for Unix sockets.
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() != 5 {
            continue;
        }
        let want = [host, port.as_str(), db, user];
        if fields[..4]
            .iter()
            .zip(want)
            .all(|(f, w)| f == "*" || f == w)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().unwrap().push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_matches_wildcards_and_escapes() {
        let dir = std::env::temp_dir().join(format!("console-pgpass-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# comment\nother:5432:*:*:nope\n*:5433:demo:org\\:admin:s3cr\\:et\n",
        )
        .unwrap();
        let p = Some(dir.clone());
        assert_eq!(
            pgpass_lookup(&p, "127.0.0.1", 5433, "demo", "org:admin"),
            Some("s3cr:et".to_string())
        );
        assert_eq!(
            pgpass_lookup(&p, "127.0.0.1", 5432, "demo", "org:admin"),
            None
        );
        std::fs::remove_file(dir).unwrap();
    }
}
