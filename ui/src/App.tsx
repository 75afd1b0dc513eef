import { useEffect, useState } from "react";
import { invoke } from "@tauri-apps/api/core";

interface AppVersion {
  version: string;
}

export function App() {
  const [version, setVersion] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    invoke<AppVersion>("version")
      .then((v) => setVersion(v.version))
      .catch((e: unknown) => setError(String(e)));
  }, []);

  return (
    <main>
      <h1>Tessera</h1>
      <p>Manage the second factor of your organisation account.</p>
      {version && <p data-testid="version">Version {version}</p>}
      {error && <p role="alert">Could not read the app version: {error}</p>}
    </main>
  );
}
