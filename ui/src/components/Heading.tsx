import { useEffect, useRef } from "react";
import type { ReactNode } from "react";

/**
 * A screen or step heading that takes the focus when it appears, so that
 * keyboard and screen-reader users land at the start of the new content.
 */
export function FocusHeading({ level = 1, children }: { level?: 1 | 2; children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  const Tag = level === 1 ? "h1" : "h2";
  return (
    <Tag ref={ref} tabIndex={-1} className="focus-heading">
      {children}
    </Tag>
  );
}
