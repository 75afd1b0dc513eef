// A minimal W3C WebDriver client (fetch only): enough to drive the app
// through tauri-driver without pulling a WebDriver framework in.

export class WebDriver {
  constructor(base, sessionId) {
    this.base = base;
    this.sessionId = sessionId;
  }

  static async request(base, method, path, body, timeoutMs = 30_000) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A stuck driver fails the test instead of hanging it.
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok || json.value?.error) {
      throw new Error(`WebDriver ${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
    }
    return json.value;
  }

  /** A session on the app at `application`. Never sends `browserName`. */
  static async start(base, application) {
    const value = await WebDriver.request(base, "POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application } } },
    });
    return new WebDriver(base, value.sessionId);
  }

  cmd(method, path, body, timeoutMs) {
    return WebDriver.request(this.base, method, `/session/${this.sessionId}${path}`, body, timeoutMs);
  }

  async quit() {
    await this.cmd("DELETE", "").catch(() => {});
  }

  /** The first element matching a CSS selector, waiting up to `ms`. */
  waitFor(css, ms = 20000) {
    return this.waitForLocator("css selector", css, ms);
  }

  /** The first element matching an XPath expression, waiting up to `ms`. */
  waitForXPath(xpath, ms = 20000) {
    return this.waitForLocator("xpath", xpath, ms);
  }

  async waitForLocator(using, value, ms) {
    const until = Date.now() + ms;
    let last;
    while (Date.now() < until) {
      try {
        const el = await this.cmd("POST", "/element", { using, value });
        return Object.values(el)[0];
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`no element ${value} after ${ms} ms: ${last}`);
  }

  text(id) {
    return this.cmd("GET", `/element/${id}/text`);
  }

  property(id, name) {
    return this.cmd("GET", `/element/${id}/property/${name}`);
  }

  click(id) {
    return this.cmd("POST", `/element/${id}/click`, {});
  }

  /** Runs a script in the page and answers its value. */
  execute(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  /**
   * A PNG screenshot of the window, as bytes. Under Xvfb WebKitWebDriver
   * answers a screenshot at the page's next paint, which a still page never
   * makes; so the page is first asked to nudge its style a few times in the
   * coming second (no visible change), while the request waits.
   */
  async screenshot() {
    await this.execute(`
      let n = 0;
      const tick = () => {
        document.body.style.opacity = n % 2 ? "" : "0.999";
        if (++n < 10) setTimeout(tick, 100);
        else document.body.style.opacity = "";
      };
      setTimeout(tick, 100);`);
    return Buffer.from(await this.cmd("GET", "/screenshot", undefined, 15_000), "base64");
  }
}
