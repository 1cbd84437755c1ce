// Invitation wording per interview language. English is the fallback for any language without
// its own text; a regional code ("pt-BR") falls back to its language ("pt") first.

export interface InvitationText {
  subject: string;
  greeting: string;
  greetingAnonymous: string;
  intro: string;
  button: string;
  expiry: string;
  fallbackLink: string;
  footer: string;
  /** A reminder's subject and opening, with {left}: how long the link still works. */
  reminderSubject: string;
  reminderIntro: string;
  /** Prefix of a test registration's subject. */
  testPrefix: string;
}

// Placeholders: {company}, {interview}, {name}, {expires}, {left}.
const texts: Record<string, InvitationText> = {
  en: {
    subject: "Your interview for {interview} at {company}",
    greeting: "Hello {name},",
    greetingAnonymous: "Hello,",
    intro: "{company} invites you to an AI interview for the role of {interview}. " +
      "You can take it whenever it suits you, before the link expires.",
    button: "Start your interview",
    expiry: "This link is personal and can be used once. It expires on {expires}.",
    fallbackLink: "If the button does not work, copy this link into your browser:",
    footer: "You are receiving this email because {company} registered you for an interview.",
    reminderSubject: "Reminder: your interview for {interview} at {company}",
    reminderIntro: "{company} is still waiting for your AI interview for the role of " +
      "{interview}. Your link works for {left} more.",
    testPrefix: "[Test]",
  },
  de: {
    subject: "Ihr Interview für {interview} bei {company}",
    greeting: "Hallo {name},",
    greetingAnonymous: "Hallo,",
    intro: "{company} lädt Sie zu einem KI-Interview für die Stelle {interview} ein. " +
      "Sie können es jederzeit führen, solange der Link gültig ist.",
    button: "Interview starten",
    expiry: "Dieser Link ist persönlich und nur einmal gültig. Er läuft am {expires} ab.",
    fallbackLink:
      "Falls die Schaltfläche nicht funktioniert, kopieren Sie diesen Link in Ihren Browser:",
    footer: "Sie erhalten diese E-Mail, weil {company} Sie für ein Interview angemeldet hat.",
    reminderSubject: "Erinnerung: Ihr Interview für {interview} bei {company}",
    reminderIntro: "{company} wartet noch auf Ihr KI-Interview für die Stelle {interview}. " +
      "Ihr Link ist noch {left} gültig.",
    testPrefix: "[Test]",
  },
  es: {
    subject: "Tu entrevista para {interview} en {company}",
    greeting: "Hola {name}:",
    greetingAnonymous: "Hola:",
    intro: "{company} te invita a una entrevista con IA para el puesto de {interview}. " +
      "Puedes hacerla cuando te venga bien, antes de que caduque el enlace.",
    button: "Empezar la entrevista",
    expiry: "Este enlace es personal y solo se puede usar una vez. Caduca el {expires}.",
    fallbackLink: "Si el botón no funciona, copia este enlace en tu navegador:",
    footer: "Recibes este correo porque {company} te ha inscrito en una entrevista.",
    reminderSubject: "Recordatorio: tu entrevista para {interview} en {company}",
    reminderIntro: "{company} todavía espera tu entrevista con IA para el puesto de " +
      "{interview}. Tu enlace sigue siendo válido durante {left}.",
    testPrefix: "[Prueba]",
  },
  fr: {
    subject: "Votre entretien pour {interview} chez {company}",
    greeting: "Bonjour {name},",
    greetingAnonymous: "Bonjour,",
    intro: "{company} vous invite à un entretien avec une IA pour le poste {interview}. " +
      "Vous pouvez le passer quand vous le souhaitez, avant l'expiration du lien.",
    button: "Commencer l'entretien",
    expiry: "Ce lien est personnel et ne peut être utilisé qu'une fois. Il expire le {expires}.",
    fallbackLink: "Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur :",
    footer: "Vous recevez cet e-mail car {company} vous a inscrit à un entretien.",
    reminderSubject: "Rappel : votre entretien pour {interview} chez {company}",
    reminderIntro: "{company} attend toujours votre entretien avec une IA pour le poste " +
      "{interview}. Votre lien reste valable encore {left}.",
    testPrefix: "[Test]",
  },
  sk: {
    subject: "Váš pohovor na pozíciu {interview} v spoločnosti {company}",
    greeting: "Dobrý deň, {name},",
    greetingAnonymous: "Dobrý deň,",
    intro: "{company} vás pozýva na pohovor s AI na pozíciu {interview}. " +
      "Môžete ho absolvovať kedykoľvek, kým je odkaz platný.",
    button: "Začať pohovor",
    expiry: "Tento odkaz je osobný a dá sa použiť raz. Platnosť vyprší {expires}.",
    fallbackLink: "Ak tlačidlo nefunguje, skopírujte tento odkaz do prehliadača:",
    footer: "Tento e-mail dostávate, pretože vás {company} prihlásila na pohovor.",
    reminderSubject: "Pripomienka: váš pohovor na pozíciu {interview} v spoločnosti {company}",
    reminderIntro: "{company} stále čaká na váš pohovor s AI na pozíciu {interview}. " +
      "Váš odkaz platí ešte {left}.",
    testPrefix: "[Test]",
  },
};

export const SUPPORTED_LANGUAGES = Object.keys(texts);

/** The text for a language code, and the language actually used. */
export function invitationText(languageCode: string | null | undefined): {
  language: string;
  text: InvitationText;
} {
  const code = (languageCode ?? "en").toLowerCase();
  const base = code.split("-")[0];
  const language = code in texts ? code : base in texts ? base : "en";
  return { language, text: texts[language] };
}
