//! Web origins a tenant lets use its capture tokens from a browser (CORS allow-list).

/// Why an origin cannot be on an allow-list.
#[derive(Debug, thiserror::Error)]
#[error("{origin:?} is not an allowed origin: {reason}")]
pub struct OriginError {
    pub origin: String,
    pub reason: &'static str,
}

/// The canonical form of a web origin as browsers send it in `Origin` (`scheme://host[:port]`,
/// host lower case, default port dropped), or why it cannot be allowed: no wildcard, no
/// `null`, no path; plain `http` only on loopback, since a page served over plain HTTP
/// elsewhere can be rewritten on the way and would then hold the capture token.
pub fn canonical(origin: &str) -> Result<String, OriginError> {
    let bad = |reason| OriginError {
        origin: origin.chars().take(200).collect(),
        reason,
    };
    let trimmed = origin.trim().trim_end_matches('/');
    if trimmed.contains('*') {
        return Err(bad("wildcards are not allowed; list each origin"));
    }
    let url = url::Url::parse(trimmed).map_err(|_| bad("not scheme://host[:port]"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no user name or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an origin has no path, query or fragment"));
    }
    let host = url.host().ok_or_else(|| bad("no host"))?;
    let loopback = match host {
        url::Host::Domain(d) => d == "localhost" || d.ends_with(".localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("use https (plain http only for localhost)")),
        _ => return Err(bad("the scheme must be https")),
    }
    Ok(url.origin().ascii_serialization())
}

/// At most this many origins per tenant: an allow-list, not a directory.
pub const MAX_ORIGINS: usize = 32;

/// Every origin canonical, duplicates removed, order kept.
pub fn canonical_list(origins: &[String]) -> Result<Vec<String>, OriginError> {
    if origins.len() > MAX_ORIGINS {
        return Err(OriginError {
            origin: format!("{} origins", origins.len()),
            reason: "at most 32 origins",
        });
    }
    let mut out: Vec<String> = Vec::new();
    for o in origins {
        let c = canonical(o)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_canonical_and_strict() {
        assert_eq!(
            canonical("https://Shop.Example").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            canonical("https://shop.example:443/").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            canonical("https://shop.example:8443").unwrap(),
            "https://shop.example:8443"
        );
        assert_eq!(
            canonical("http://127.0.0.1:5173").unwrap(),
            "http://127.0.0.1:5173"
        );
        assert_eq!(
            canonical("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        for bad in [
            "*",
            "https://*.shop.example",
            "null",
            "http://shop.example",
            "https://shop.example/path",
            "https://user:pw@shop.example",
            "ftp://shop.example",
            "shop.example",
            "https://shop.example?x=1",
        ] {
            assert!(canonical(bad).is_err(), "{bad}");
        }
        let list = canonical_list(&["https://a.example".into(), "https://A.example/".into()]);
        assert_eq!(list.unwrap(), ["https://a.example"]);
    }
}
