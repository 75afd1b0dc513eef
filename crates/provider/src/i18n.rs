//! French and English texts of the sign-in pages, chosen from
//! `Accept-Language` (English when neither is acceptable).

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// The best of `fr` and `en` by the header's q-values; ties go to the
    /// first listed.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(Lang, f32)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("fr") => Lang::Fr,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l).unwrap_or(Lang::En)
    }

    /// The first of `fr`/`en` in a space-separated `ui_locales` list.
    pub fn from_ui_locales(list: &str) -> Option<Lang> {
        list.split_whitespace()
            .find_map(|tag| match tag.to_ascii_lowercase().split('-').next() {
                Some("fr") => Some(Lang::Fr),
                Some("en") => Some(Lang::En),
                _ => None,
            })
    }

    /// `ui_locales` of the authorization request when it names fr or en,
    /// else `Accept-Language`.
    pub fn for_request(ui_locales: Option<&str>, headers: &HeaderMap) -> Lang {
        ui_locales
            .and_then(Lang::from_ui_locales)
            .unwrap_or_else(|| Lang::from_headers(headers))
    }

    pub fn from_headers(headers: &HeaderMap) -> Lang {
        Lang::from_accept_language(
            headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }
}

/// Every string a page shows. One field per message keeps the two languages
/// in step: a missing translation does not compile.
#[derive(Debug)]
pub struct Texts {
    pub sign_in_title: &'static str,
    pub sign_in_to: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub continue_: &'static str,
    pub otp_title: &'static str,
    pub otp_label: &'static str,
    pub otp_help: &'static str,
    pub trust_browser: &'static str,
    pub enrol_title: &'static str,
    pub enrol_intro: &'static str,
    pub enrol_secret: &'static str,
    pub enrol_confirm: &'static str,
    pub qr_alt: &'static str,
    pub recovery_title: &'static str,
    pub recovery_enrolled: &'static str,
    pub recovery_intro: &'static str,
    pub recovery_download: &'static str,
    pub recovery_shown_before: &'static str,
    pub recovery_saved: &'static str,
    pub signed_in_as: &'static str,
    pub error_title: &'static str,
    pub wrong_credentials: &'static str,
    pub account_disabled: &'static str,
    pub missing_fields: &'static str,
    pub wrong_code: &'static str,
    pub code_reused: &'static str,
    /// `{n}` is replaced by the number of minutes.
    pub too_many_attempts: &'static str,
    pub expired: &'static str,
    /// The account reached the most authenticator apps allowed while this
    /// sign-in enrolled one.
    pub too_many_devices: &'static str,
    pub forbidden: &'static str,
    pub unavailable: &'static str,
    pub bad_request: &'static str,
    pub missing_client_id: &'static str,
    pub unknown_client: &'static str,
    pub missing_redirect_uri: &'static str,
    pub unregistered_redirect_uri: &'static str,
    pub logout_title: &'static str,
    pub logout_confirm: &'static str,
    pub logout_button: &'static str,
    pub logged_out: &'static str,
}

impl Texts {
    pub fn too_many_attempts(&self, minutes: u64) -> String {
        self.too_many_attempts.replace("{n}", &minutes.to_string())
    }
}

pub static EN: Texts = Texts {
    sign_in_title: "Sign in",
    sign_in_to: "Sign in to continue to",
    username: "User name or email",
    password: "Password",
    continue_: "Continue",
    otp_title: "Two-step verification",
    otp_label: "Code from your authenticator app (or a recovery code)",
    otp_help: "Open your authenticator app and type the 6-digit code it shows for this account.",
    trust_browser: "Trust this browser: do not ask for a code here again for a while",
    enrol_title: "Set up an authenticator app",
    enrol_intro: "Your organisation requires a second factor. Scan this QR code with an authenticator app, or type the secret below, then enter the 6-digit code it shows.",
    enrol_secret: "Secret key:",
    enrol_confirm: "Confirm and sign in",
    qr_alt: "QR code to scan with an authenticator app",
    recovery_title: "Save your recovery codes",
    recovery_enrolled: "Your authenticator app is set up.",
    recovery_intro: "If you lose your phone, each of these codes signs you in once instead of a code from the app. Print them or write them down now and keep them somewhere safe: they are shown only this once.",
    recovery_download: "Download the codes as a text file",
    recovery_shown_before: "Your recovery codes were shown on this page once and are not shown again. If you did not save them, make new ones in Tessera (Authenticator apps, New recovery codes) once you are signed in.",
    recovery_saved: "I have saved them, continue",
    signed_in_as: "Account:",
    error_title: "Something went wrong",
    wrong_credentials: "Wrong user name or password.",
    account_disabled: "This account is disabled. Contact your help desk.",
    missing_fields: "Please fill in every field.",
    wrong_code: "This code is not valid. Check your authenticator app's clock and try again.",
    code_reused: "This code was already used. Wait for the next code of your authenticator app.",
    too_many_attempts: "Too many attempts, try again in {n} minutes.",
    expired: "This sign-in has expired or was already completed. Go back to the application and start again.",
    too_many_devices: "Your account already has the most authenticator apps allowed, so this one was not added. Go back to the application and sign in with one of them.",
    forbidden: "This form could not be verified (it may have been sent from another page). Go back to the application and start again.",
    unavailable: "The service is temporarily unavailable. Try again in a moment.",
    bad_request: "The sign-in request is invalid",
    missing_client_id: "The application did not say who it is (client_id is missing).",
    unknown_client: "This application is not registered with the provider (unknown client_id).",
    missing_redirect_uri: "The application did not say where to return (redirect_uri is missing).",
    unregistered_redirect_uri: "The return address is not registered for this application (redirect_uri is not registered).",
    logout_title: "Sign out",
    logout_confirm: "Do you want to sign out of your organisation account on this browser?",
    logout_button: "Sign out",
    logged_out: "You are signed out.",
};

pub static FR: Texts = Texts {
    sign_in_title: "Connexion",
    sign_in_to: "Connectez-vous pour continuer vers",
    username: "Identifiant ou adresse e-mail",
    password: "Mot de passe",
    continue_: "Continuer",
    otp_title: "Validation en deux étapes",
    otp_label: "Code de votre application d'authentification (ou un code de secours)",
    otp_help: "Ouvrez votre application d'authentification et saisissez le code à 6 chiffres affiché pour ce compte.",
    trust_browser: "Faire confiance à ce navigateur : ne plus demander de code ici pendant un temps",
    enrol_title: "Configurer une application d'authentification",
    enrol_intro: "Votre organisation exige un second facteur. Scannez ce QR code avec une application d'authentification, ou saisissez la clé ci-dessous, puis entrez le code à 6 chiffres affiché.",
    enrol_secret: "Clé secrète :",
    enrol_confirm: "Confirmer et se connecter",
    qr_alt: "QR code à scanner avec une application d'authentification",
    recovery_title: "Enregistrez vos codes de secours",
    recovery_enrolled: "Votre application d'authentification est configurée.",
    recovery_intro: "Si vous perdez votre téléphone, chacun de ces codes vous connecte une fois à la place d'un code de l'application. Imprimez-les ou notez-les maintenant et gardez-les en lieu sûr : ils ne sont affichés que cette fois.",
    recovery_download: "Télécharger les codes dans un fichier texte",
    recovery_shown_before: "Vos codes de secours ont été affichés une fois sur cette page et ne le sont plus. Si vous ne les avez pas enregistrés, créez-en de nouveaux dans Tessera (Applications d’authentification, Nouveaux codes de secours) une fois connecté.",
    recovery_saved: "Je les ai enregistrés, continuer",
    signed_in_as: "Compte :",
    error_title: "Une erreur s'est produite",
    wrong_credentials: "Identifiant ou mot de passe incorrect.",
    account_disabled: "Ce compte est désactivé. Contactez votre support.",
    missing_fields: "Veuillez remplir tous les champs.",
    wrong_code: "Ce code n'est pas valide. Vérifiez l'horloge de votre application d'authentification et réessayez.",
    code_reused: "Ce code a déjà été utilisé. Attendez le code suivant de votre application d'authentification.",
    too_many_attempts: "Trop de tentatives, réessayez dans {n} minutes.",
    expired: "Cette connexion a expiré ou est déjà terminée. Revenez à l'application et recommencez.",
    too_many_devices: "Votre compte a déjà autant d'applications d'authentification que permis : celle-ci n'a pas été ajoutée. Revenez à l'application et connectez-vous avec l'une d'elles.",
    forbidden: "Ce formulaire n'a pas pu être vérifié (il a peut-être été envoyé depuis une autre page). Revenez à l'application et recommencez.",
    unavailable: "Le service est momentanément indisponible. Réessayez dans un instant.",
    bad_request: "La demande de connexion est invalide",
    missing_client_id: "L'application n'a pas indiqué qui elle est (client_id manquant).",
    unknown_client: "Cette application n'est pas enregistrée auprès du fournisseur (client_id inconnu).",
    missing_redirect_uri: "L'application n'a pas indiqué où revenir (redirect_uri manquant).",
    unregistered_redirect_uri: "L'adresse de retour n'est pas enregistrée pour cette application (redirect_uri is not registered).",
    logout_title: "Déconnexion",
    logout_confirm: "Voulez-vous vous déconnecter de votre compte sur ce navigateur ?",
    logout_button: "Se déconnecter",
    logged_out: "Vous êtes déconnecté.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_french_or_english_by_quality() {
        let cases = [
            (None, Lang::En),
            (Some("fr-FR,fr;q=0.9,en;q=0.8"), Lang::Fr),
            (Some("en-GB,fr;q=0.5"), Lang::En),
            (Some("de-DE,fr;q=0.3,en;q=0.7"), Lang::En),
            (Some("de-DE,fr;q=0.3"), Lang::Fr),
            (Some("fr;q=0"), Lang::En),
            (Some(";;,,q=x"), Lang::En),
        ];
        for (header, lang) in cases {
            assert_eq!(Lang::from_accept_language(header), lang, "{header:?}");
        }
        assert_eq!(
            FR.too_many_attempts(15),
            "Trop de tentatives, réessayez dans 15 minutes."
        );
        assert_eq!(
            EN.too_many_attempts(2),
            "Too many attempts, try again in 2 minutes."
        );
    }
}
