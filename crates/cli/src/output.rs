//! Printing: human text in the user's language, or JSON for scripts.

use serde::Serialize;
use tessera_client::api::{ActivityPage, Device, TrustedBrowser};
use tessera_client::{ClientError, Lang};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn error(err: &ClientError, lang: Lang, json: bool) {
    if json {
        eprintln!("{}", serde_json::json!({ "error": err.payload(lang) }));
    } else {
        eprintln!("tessera: {}", err.message(lang));
    }
}

pub fn json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string(value).expect("serialisable output")
    );
}

pub fn when(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

pub fn when_opt(t: Option<OffsetDateTime>, lang: Lang) -> String {
    t.map(when)
        .unwrap_or_else(|| lang.pick("never", "jamais").to_owned())
}

pub fn devices(list: &[Device], lang: Lang) {
    if list.is_empty() {
        println!(
            "{}",
            lang.pick(
                "No authenticator app.",
                "Aucune application d'authentification."
            )
        );
        return;
    }
    for d in list {
        println!(
            "{}  {}\n    {} {}  {} {}",
            d.id,
            d.name,
            lang.pick("added", "ajoutée le"),
            when(d.registered_at),
            lang.pick("last used", "dernière utilisation"),
            when_opt(d.last_used_at, lang)
        );
    }
}

pub fn browsers(list: &[TrustedBrowser], lang: Lang) {
    if list.is_empty() {
        println!(
            "{}",
            lang.pick("No trusted browser.", "Aucun navigateur de confiance.")
        );
        return;
    }
    for b in list {
        println!(
            "{}  {}\n    {} {}  {} {}  {} {}",
            b.id,
            b.name,
            lang.pick("trusted", "depuis"),
            when(b.created_at),
            lang.pick("last used", "dernière utilisation"),
            when_opt(b.last_used_at, lang),
            lang.pick("expires", "expire le"),
            when(b.expires_at)
        );
    }
}

pub fn activity(page: &ActivityPage, lang: Lang) {
    if page.events.is_empty() {
        println!("{}", lang.pick("No activity.", "Aucune activité."));
    }
    for e in &page.events {
        let mut line = format!("{}  {:<26} {}", when(e.time), e.action.as_str(), e.actor);
        if e.actor != e.subject {
            line.push_str(&format!(" → {}", e.subject));
        }
        if let Some(t) = &e.target {
            line.push_str(&format!("  [{t}]"));
        }
        if let Some(r) = &e.reason {
            line.push_str(&format!("  « {r} »"));
        }
        if let Some(ip) = &e.ip {
            line.push_str(&format!("  {ip}"));
        }
        println!("{line}");
    }
    if let Some(c) = &page.next_cursor {
        println!("{} --cursor {c}", lang.pick("More:", "Suite :"));
    }
}

pub fn recovery_codes(codes: &[tessera_client::api::SecretText], lang: Lang) {
    println!(
        "{}",
        lang.pick(
            "Recovery codes — each works once. Keep them somewhere safe; they will not be shown again:",
            "Codes de secours — chacun sert une fois. Gardez-les en lieu sûr ; ils ne seront plus affichés :"
        )
    );
    for c in codes {
        println!("  {}", c.expose());
    }
}
