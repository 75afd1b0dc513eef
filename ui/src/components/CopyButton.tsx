import { useState } from "react";
import { useI18n } from "../i18n/I18n";

/** Copies `text` to the clipboard and says whether it worked. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const { t } = useI18n();
  const [result, setResult] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setResult(t("common.copied"));
    } catch {
      setResult(t("common.copyFailed"));
    }
  };
  return (
    <span className="copy">
      <button type="button" onClick={() => void copy()} aria-label={label}>
        {t("common.copy")}
      </button>
      <span role="status" className="copy-result">
        {result}
      </span>
    </span>
  );
}
