import { start } from "./app";

void start().catch((e) => {
  document.getElementById("app")!.textContent = `Sealpost could not start: ${e instanceof Error ? e.message : String(e)}`;
});
