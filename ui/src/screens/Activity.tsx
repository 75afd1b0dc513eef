import { FocusHeading } from "../components/Heading";
import { ActivityList } from "../components/ActivityList";
import { useI18n } from "../i18n/I18n";
import { ipc } from "../ipc";

/** The user's own security events, paged. */
export function Activity() {
  const { t } = useI18n();
  return (
    <>
      <FocusHeading>{t("activity.title")}</FocusHeading>
      <p>{t("activity.intro")}</p>
      <ActivityList fetchPage={ipc.activityPage} label={t("activity.title")} />
    </>
  );
}
