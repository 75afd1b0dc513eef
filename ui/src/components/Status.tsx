/** A polite live region for progress and confirmations; always mounted. */
export function Status({ message }: { message: string | null }) {
  return (
    <p role="status" className={message ? "status" : "status status-empty"}>
      {message}
    </p>
  );
}
