//! The HTML pages: sign-in, consent (with the patient picker), the EHR launcher and errors.
//! Every interpolated value goes through [`escape`]; the pages carry no script.

use super::config::PickerPatient;
use super::scopes;

/// HTML-escapes text for element content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f3f5f8; margin: 0; color: #1d2430; }}
main {{ max-width: 34rem; margin: 2.5rem auto; background: #fff; border-radius: 10px; padding: 1.6rem 2rem;
        box-shadow: 0 2px 10px rgba(0,0,0,.08); }}
h1 {{ font-size: 1.35rem; margin-top: 0; }}
.banner {{ background: #fff4d6; border: 1px solid #f0c36d; padding: .45rem .7rem; border-radius: 6px; font-size: .85rem; }}
fieldset {{ border: 1px solid #d6dbe3; border-radius: 8px; margin: 1rem 0; padding: .6rem 1rem; }}
legend {{ font-weight: 600; padding: 0 .3rem; }}
label {{ display: block; margin: .35rem 0; }}
code {{ background: #eef1f6; padding: 0 .25rem; border-radius: 3px; }}
input[type=text], input[type=password], select {{ width: 100%; padding: .45rem; box-sizing: border-box; }}
button {{ padding: .55rem 1.2rem; border-radius: 6px; border: 0; background: #2457c5; color: #fff; font-size: 1rem; margin-right: .5rem; }}
button.secondary {{ background: #d6dbe3; color: #1d2430; }}
.error {{ color: #a61b1b; }}
</style></head>
<body><main>
<p class="banner">Development authorization server &mdash; for development only. Do not use with real patient data.</p>
{body}
</main></body></html>
"#,
        title = escape(title)
    )
}

/// The sign-in form.
pub(crate) fn login(app: &str, txn: &str, csrf: &str, action: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    layout(
        "Sign in",
        &format!(
            r#"<h1>Sign in</h1>
<p><strong>{app}</strong> asks to access your health record.</p>
{error}
<form method="post" action="{action}">
<input type="hidden" name="txn" value="{txn}"><input type="hidden" name="csrf" value="{csrf}">
<label>User name <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<p><button type="submit" id="sign-in">Sign in</button></p>
</form>"#,
            app = escape(app),
            txn = escape(txn),
            csrf = escape(csrf),
            action = escape(action),
        ),
    )
}

/// What the consent page shows.
pub(crate) struct ConsentView<'a> {
    pub app: &'a str,
    pub user: &'a str,
    pub action: &'a str,
    pub txn: &'a str,
    pub csrf: &'a str,
    pub scopes: &'a [String],
    /// Patients to pick from; empty when no choice is needed.
    pub picker: &'a [PickerPatient],
    /// The patient already in context (EHR launch or a patient user).
    pub patient: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The origin of the redirect URI: where the authorization goes.
    pub destination: &'a str,
    /// The app registered itself: its name is whatever it chose.
    pub unverified: bool,
}

fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are (OpenID Connect)".into(),
        "fhirUser" => "Know your FHIR user record".into(),
        "profile" => "See your name".into(),
        "launch" => "Use the context the EHR launched it with".into(),
        "launch/patient" => "Know which patient is selected".into(),
        "launch/encounter" => "Know which encounter is selected".into(),
        "offline_access" => "Keep access after you sign out (refresh token)".into(),
        "online_access" => "Keep access while you are signed in".into(),
        s => match scopes::parse_resource_scope(s) {
            Some(r) => describe_resource_scope(&r),
            None => "Other access".into(),
        },
    }
}

/// "Read and search the selected patient's Observation records (only those matching
/// category=laboratory)".
fn describe_resource_scope(r: &scopes::ResourceScope<'_>) -> String {
    let verbs: Vec<&str> = [
        ('c', "create"),
        ('r', "read"),
        ('u', "update"),
        ('d', "delete"),
        ('s', "search"),
    ]
    .into_iter()
    .filter(|(letter, _)| r.permissions.contains(*letter))
    .map(|(_, verb)| verb)
    .collect();
    let verbs = match verbs.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let what = if r.resource_type == "*" {
        "records of every type".to_owned()
    } else {
        format!("{} records", r.resource_type)
    };
    let mut text = match r.level {
        "patient" => format!("{verbs} the selected patient's {what}"),
        "user" => format!("{verbs} the {what} you have access to"),
        _ => format!("{verbs} {what} of every patient"),
    };
    if let Some(constraint) = r.constraint {
        text.push_str(&format!(" (only those matching {constraint})"));
    }
    capitalize(&text)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The consent page: each scope and each named resource type can be unticked.
pub(crate) fn consent(v: &ConsentView<'_>) -> String {
    let mut scope_items = String::new();
    for (i, s) in v.scopes.iter().enumerate() {
        scope_items.push_str(&format!(
            r#"<label><input type="checkbox" name="scope" value="{value}" id="scope-{i}" checked> {desc} <code>{value}</code></label>
"#,
            value = escape(s),
            desc = escape(&describe(s)),
        ));
    }
    let mut types: Vec<&str> = v
        .scopes
        .iter()
        .filter_map(|s| scopes::resource_type(s))
        .filter(|t| *t != "*")
        .collect();
    types.sort_unstable();
    types.dedup();
    let types_block = if types.is_empty() {
        String::new()
    } else {
        let items: String = types
            .iter()
            .map(|t| {
                format!(
                    r#"<label><input type="checkbox" name="type" value="{t}" checked> {t}</label>
"#,
                    t = escape(t)
                )
            })
            .collect();
        format!(
            r#"<fieldset><legend>Resource types</legend>
<input type="hidden" name="types_listed" value="1">
{items}</fieldset>"#
        )
    };
    let patient_block = match (v.patient, v.picker.is_empty()) {
        (Some(p), _) => format!(
            r#"<p>Patient in context: <code>Patient/{}</code></p>"#,
            escape(p)
        ),
        (None, false) => {
            let options: String = v
                .picker
                .iter()
                .map(|p| {
                    format!(
                        r#"<option value="{id}">{name} (Patient/{id})</option>"#,
                        id = escape(&p.id),
                        name = escape(&p.display)
                    )
                })
                .collect();
            format!(
                r#"<fieldset><legend>Patient</legend><label for="patient">Choose the patient this app may see</label>
<select name="patient" id="patient">{options}</select></fieldset>"#
            )
        }
        (None, true) => String::new(),
    };
    let error = v
        .error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    layout(
        "Authorize app",
        &format!(
            r#"<h1>Allow <em>{app}</em> access?</h1>
<p>Access is sent to <code>{destination}</code>.{unverified}</p>
<p>Signed in as <strong>{user}</strong>. Untick anything you do not want to share.</p>
{error}
<form method="post" action="{action}">
<input type="hidden" name="txn" value="{txn}"><input type="hidden" name="csrf" value="{csrf}">
{patient_block}
<fieldset><legend>Permissions</legend>
{scope_items}</fieldset>
{types_block}
<p><button type="submit" name="decision" value="approve" id="approve">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary" id="deny">Deny</button></p>
</form>"#,
            app = escape(v.app),
            destination = escape(v.destination),
            unverified = if v.unverified {
                " This app registered itself: its name is not verified."
            } else {
                ""
            },
            user = escape(v.user),
            action = escape(v.action),
            txn = escape(v.txn),
            csrf = escape(v.csrf),
        ),
    )
}

/// The minimal EHR: pick an app with a launch URL and a patient, then launch.
pub(crate) fn ehr(apps: &[(String, String)], patients: &[PickerPatient], action: &str) -> String {
    if apps.is_empty() {
        // The demo clients have no launch URL: an empty picker would launch nothing.
        return layout(
            "EHR launch",
            "<h1>Launch an app (EHR launch)</h1>\n<p>No registered app has a launch URL. \
             Register one with a <code>launch_uri</code> (<code>POST /auth/register</code> or \
             a clients file), then reload this page.</p>",
        );
    }
    let app_options: String = apps
        .iter()
        .map(|(id, name)| {
            format!(
                r#"<option value="{id}">{name}</option>"#,
                id = escape(id),
                name = escape(name)
            )
        })
        .collect();
    let patient_options: String = patients
        .iter()
        .map(|p| {
            format!(
                r#"<option value="{id}">{name}</option>"#,
                id = escape(&p.id),
                name = escape(&p.display)
            )
        })
        .collect();
    layout(
        "EHR launch",
        &format!(
            r#"<h1>Launch an app (EHR launch)</h1>
<form method="post" action="{action}">
<label>App <select name="client_id">{app_options}</select></label>
<label>Patient <select name="patient">{patient_options}</select></label>
<p><button type="submit">Launch</button></p>
</form>"#,
            action = escape(action)
        ),
    )
}

/// An error page (used when the request cannot be sent back to the app).
pub(crate) fn error(title: &str, message: &str) -> String {
    layout(
        title,
        &format!(
            "<h1>{}</h1><p class=\"error\">{}</p>",
            escape(title),
            escape(message)
        ),
    )
}

/// The sign-out confirmation form.
pub(crate) fn sign_out(action: &str, confirm: &str) -> String {
    layout(
        "Sign out",
        &format!(
            r#"<h1>Sign out</h1>
<p>Sign out of the development server? Apps whose access lasts only while you are signed in
(<code>online_access</code>) lose it.</p>
<form method="post" action="{action}">
<input type="hidden" name="confirm" value="{confirm}">
<p><button type="submit" id="sign-out">Sign out</button></p>
</form>"#,
            action = escape(action),
            confirm = escape(confirm),
        ),
    )
}

/// A plain confirmation page (signed out, ...).
pub(crate) fn notice(title: &str, message: &str) -> String {
    layout(
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message)),
    )
}

#[cfg(test)]
mod tests {
    use super::{describe, ehr, PickerPatient};

    #[test]
    fn the_ehr_without_an_app_to_launch_says_how_to_get_one() {
        let patients = [PickerPatient {
            id: "example".into(),
            display: "Peter James Chalmers".into(),
        }];
        let page = ehr(&[], &patients, "/auth/launch");
        assert!(
            page.contains("No registered app has a launch URL"),
            "{page}"
        );
        assert!(!page.contains("<form"), "{page}");
        let apps = [("app".to_owned(), "An app".to_owned())];
        let page = ehr(&apps, &patients, "/auth/launch");
        assert!(
            page.contains(r#"<option value="app">An app</option>"#),
            "{page}"
        );
    }

    #[test]
    fn scopes_are_described_in_plain_words() {
        for (scope, text) in [
            (
                "patient/*.rs",
                "Read and search the selected patient's records of every type",
            ),
            (
                "patient/*.read",
                "Read and search the selected patient's records of every type",
            ),
            (
                "patient/Observation.cruds",
                "Create, read, update, delete and search the selected patient's Observation records",
            ),
            (
                "user/Patient.r",
                "Read the Patient records you have access to",
            ),
            (
                "system/*.s",
                "Search records of every type of every patient",
            ),
            (
                "patient/Observation.rs?category=laboratory",
                "Read and search the selected patient's Observation records \
                 (only those matching category=laboratory)",
            ),
            ("openid", "Know who you are (OpenID Connect)"),
        ] {
            assert_eq!(describe(scope), text, "{scope}");
        }
    }
}
