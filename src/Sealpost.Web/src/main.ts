import { start } from "./app";

const app = document.getElementById("app")!;
if (!window.isSecureContext || !crypto.subtle) {
  // WebCrypto exists only in secure contexts: https://, or http://localhost and http://127.0.0.1.
  app.textContent = "Sealpost needs a secure connection to seal messages in this page: open it over https://, or on this machine at http://127.0.0.1.";
} else {
  void start().catch((e) => {
    app.textContent = `Sealpost could not start: ${e instanceof Error ? e.message : String(e)}`;
  });
}
