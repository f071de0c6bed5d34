// The single-page app: sign-in, then hash routes (#/entries, #/lineage/DIGEST, #/impact/KIND/VALUE,
// #/grants, #/witnesses), each page drawn into <main> from signed API requests. The signing key
// lives in this tab's memory only: a reload signs out.

import { field, h, problem } from "./dom.js";
import { entriesPage } from "./entries.js";
import { grantsPage } from "./grants.js";
import { impactPage } from "./impact.js";
import { lineagePage } from "./lineage.js";
import { importKeyFile, KeyFileError, NeedsPassphrase, signedJson } from "./sign.js";
import { witnessesPage } from "./witnesses.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const signout = document.getElementById("signout");

let session = null;

function context() {
  return {
    who: session.who,
    api: (path, query) => signedJson(session.signer, "GET", path, query),
    go: (hash) => {
      location.hash = hash;
    },
  };
}

const PAGES = {
  entries: entriesPage,
  lineage: lineagePage,
  impact: impactPage,
  grants: grantsPage,
  witnesses: witnessesPage,
};

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part; // a malformed escape: taken as it stands, for the page to refuse
    }
  });
  const [name, ...rest] = parts;
  if (!session) {
    showSignIn();
    return;
  }
  const page = PAGES[name] || PAGES.entries;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = h("div", { class: "page" });
  main.replaceChildren(view);
  main.setAttribute("aria-busy", "true");
  const drawing = location.hash;
  try {
    await page(view, context(), rest);
  } catch (error) {
    view.append(problem(error));
  } finally {
    if (location.hash === drawing) {
      main.removeAttribute("aria-busy");
      main.dataset.drawn = drawing; // what the page shows: a route drawn to its end
      const heading = view.querySelector("h1");
      document.title = heading ? `${heading.textContent} \u2013 chainproof` : "chainproof";
    }
  }
  if (document.activeElement === document.body || !main.contains(document.activeElement)) {
    if (!nav.contains(document.activeElement)) main.focus({ preventScroll: true });
  }
}

function showSignIn(message) {
  nav.hidden = true;
  signout.hidden = true;
  who.textContent = "";
  document.title = "Sign in \u2013 chainproof";
  const status = h("p", { id: "signin-status", role: "status", "aria-live": "polite" });
  const input = h("input", { type: "file", id: "keyfile", accept: ".pem,.key,text/plain", "aria-describedby": "keyfile-help" });
  const passphrase = h("input", { type: "password", id: "passphrase", autocomplete: "off" });
  const unlock = h("div", { id: "unlock", hidden: true }, field("passphrase", "Passphrase of the key file", passphrase), h("button", { type: "submit" }, "Sign in"));
  let pending = null; // the text of an encrypted key file, until its passphrase is given
  let chosen = "";
  const attempt = async (text, secret) => {
    status.replaceChildren("Checking the key\u2026");
    try {
      await signIn(text, secret);
    } catch (error) {
      if (error instanceof NeedsPassphrase) {
        pending = text;
        unlock.hidden = false;
        status.replaceChildren(`${chosen}: ${error.message}`);
        passphrase.focus();
        return;
      }
      status.replaceChildren(problem(error));
    }
  };
  const form = h(
    "form",
    {
      id: "signin",
      onsubmit: async (e) => {
        e.preventDefault();
        if (pending !== null) {
          const secret = passphrase.value;
          passphrase.value = "";
          await attempt(pending, secret);
        }
      },
    },
    h("h1", {}, "Sign in"),
    h(
      "p",
      { id: "keyfile-help" },
      "Pick your registered actor key (a PKCS#8 PEM file). It is read by this page only: " +
        "it signs your requests here and is never sent or stored.",
    ),
    field("keyfile", "Key file", input),
    unlock,
    status,
  );
  input.addEventListener("change", async () => {
    const [file] = input.files;
    if (!file) return;
    pending = null;
    unlock.hidden = true;
    chosen = file.name;
    const text = await file.text();
    input.value = "";
    await attempt(text, null);
  });
  main.replaceChildren(form);
  if (message) status.replaceChildren(message);
}

async function signIn(text, passphrase) {
  let signer;
  try {
    signer = await importKeyFile(text, passphrase);
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError("The key could not be read.");
  }
  const me = await signedJson(signer, "GET", "/v1/whoami");
  session = { signer, who: me };
  who.textContent = `Signed in as ${me.name} (${me.role || "no role"}${me.organisation ? `, ${me.organisation}` : ""})`;
  nav.hidden = false;
  signout.hidden = false;
  document.title = "chainproof";
  if (!location.hash || location.hash === "#/" || location.hash === "#/signin") {
    location.hash = me.role === "contractor" ? "#/grants" : "#/entries";
  } else {
    await route();
  }
}

signout.addEventListener("click", () => {
  session = null;
  showSignIn("Signed out.");
  document.getElementById("keyfile").focus();
});

window.addEventListener("hashchange", route);
route();
