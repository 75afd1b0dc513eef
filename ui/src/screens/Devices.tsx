import { useCallback, useEffect, useRef, useState } from "react";
import type { FormEvent } from "react";
import { FocusHeading } from "../components/Heading";
import { Confirm } from "../components/Confirm";
import { ErrorNotice } from "../components/ErrorNotice";
import { RecoveryCodes } from "../components/RecoveryCodes";
import { Status } from "../components/Status";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";
import type { Device } from "../ipc";
import { useAction } from "../session";
import { AddDevice } from "./AddDevice";

type Pending =
  | { kind: "rename"; device: Device }
  | { kind: "delete"; device: Device }
  | { kind: "regenerate" }
  | null;

/** The user's authenticator apps: list, add, rename, delete; recovery codes. */
export function Devices() {
  const { t, formatDate } = useI18n();
  // Loading the list and acting on it keep separate errors, so that the
  // refresh after a failed action does not hide why it failed.
  const { run: runLoad, error: loadError } = useAction();
  const { run, busy, error, progress, onProgress } = useAction();
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [adding, setAdding] = useState(false);
  const [pending, setPending] = useState<Pending>(null);
  const [newName, setNewName] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const addRef = useRef<HTMLButtonElement>(null);

  const load = useCallback(async () => {
    const list = await runLoad(() => ipc.devicesList());
    if (list) setDevices(list);
  }, [runLoad]);
  useEffect(() => {
    void load();
  }, [load]);

  const rename = async (e: FormEvent, device: Device) => {
    e.preventDefault();
    const name = newName.trim();
    if (!name) return;
    const updated = await run(() => ipc.deviceRename(device.id, name));
    if (updated) {
      setDevices((ds) => ds?.map((d) => (d.id === updated.id ? updated : d)) ?? null);
      setStatus(t("devices.renamed", { name: updated.name }));
      setPending(null);
    }
  };

  const remove = async (device: Device) => {
    const ok = await run(async () => {
      await ipc.deviceDelete(device.id, onProgress);
      return true;
    });
    setPending(null);
    if (ok) {
      setDevices((ds) => ds?.filter((d) => d.id !== device.id) ?? null);
      setStatus(t("devices.deleted", { name: device.name }));
      addRef.current?.focus();
    } else {
      // Removed elsewhere, or refused: show the list as it is now.
      void load();
    }
  };

  const regenerate = async () => {
    const fresh = await run(() => ipc.recoveryCodesRegenerate(onProgress));
    setPending(null);
    if (fresh) setCodes(fresh.codes);
  };

  if (adding) {
    return (
      <>
        <h1>{t("devices.title")}</h1>
        <AddDevice
          onFinished={() => {
            setAdding(false);
            void load();
          }}
        />
      </>
    );
  }

  return (
    <>
      <FocusHeading>{t("devices.title")}</FocusHeading>
      <p>{t("devices.intro")}</p>
      <div className="actions">
        <button type="button" ref={addRef} className="primary" onClick={() => setAdding(true)}>
          {t("devices.add")}
        </button>
      </div>
      {devices === null ? (
        <p>{t("app.loading")}</p>
      ) : devices.length === 0 ? (
        <p data-testid="devices-empty">{t("devices.empty")}</p>
      ) : (
        <table className="list">
          <caption className="visually-hidden">{t("devices.title")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("devices.name")}</th>
              <th scope="col">{t("devices.added")}</th>
              <th scope="col">{t("devices.lastUsed")}</th>
              <th scope="col">{t("devices.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {devices.map((d) => (
              <tr key={d.id}>
                <th scope="row">{d.name}</th>
                <td>{formatDate(d.registered_at)}</td>
                <td>{formatDate(d.last_used_at)}</td>
                <td>
                  {pending?.kind === "rename" && pending.device.id === d.id ? (
                    <form className="inline" onSubmit={(e) => void rename(e, d)}>
                      <label htmlFor={`rename-${d.id}`} className="visually-hidden">
                        {t("devices.renameLabel", { name: d.name })}
                      </label>
                      {/* eslint-disable-next-line jsx-a11y/no-autofocus -- the field the user just asked for */}
                      <input id={`rename-${d.id}`} autoFocus value={newName} maxLength={64} required onChange={(e) => setNewName(e.target.value)} />
                      <button type="submit" disabled={busy}>
                        {t("common.save")}
                      </button>
                      <button type="button" onClick={() => setPending(null)}>
                        {t("common.cancel")}
                      </button>
                    </form>
                  ) : pending?.kind === "delete" && pending.device.id === d.id ? (
                    <Confirm
                      question={t("devices.deleteConfirm", { name: d.name })}
                      confirmLabel={t("devices.deleteYes", { name: d.name })}
                      busy={busy}
                      onConfirm={() => void remove(d)}
                      onCancel={() => setPending(null)}
                    />
                  ) : (
                    <div className="row-actions">
                      <button
                        type="button"
                        aria-label={`${t("devices.rename")} ${d.name}`}
                        onClick={() => {
                          setNewName(d.name);
                          setPending({ kind: "rename", device: d });
                        }}
                      >
                        {t("devices.rename")}
                      </button>
                      <button
                        type="button"
                        className="danger"
                        aria-label={`${t("devices.delete")} ${d.name}`}
                        onClick={() => setPending({ kind: "delete", device: d })}
                      >
                        {t("devices.delete")}
                      </button>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Status message={progress ?? status} />
      <ErrorNotice error={error ?? loadError} />

      <section aria-labelledby="recovery-heading" className="card">
        <h2 id="recovery-heading">{t("devices.regenerate")}</h2>
        <p>{t("devices.regenerateIntro")}</p>
        {codes ? (
          <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />
        ) : pending?.kind === "regenerate" ? (
          <Confirm
            question={t("devices.regenerateConfirm")}
            confirmLabel={t("devices.regenerateYes")}
            busy={busy}
            onConfirm={() => void regenerate()}
            onCancel={() => setPending(null)}
          />
        ) : (
          <button type="button" onClick={() => setPending({ kind: "regenerate" })}>
            {t("devices.regenerate")}
          </button>
        )}
      </section>
    </>
  );
}
