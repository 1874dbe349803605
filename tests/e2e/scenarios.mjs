// Browser scenarios of the example app, one per run: `node scenarios.mjs <name>`.
//
// Started by tests/e2e/test_browser.py, which owns the example server. Environment:
//   E2E_BASE_URL   http://127.0.0.1:<port> of the running example server
//   E2E_ARTIFACTS  folder for the screenshots
//   E2E_CHROMIUM   the Chromium executable (Debian's /usr/bin/chromium)
// When a scenario needs the server changed (stopped, written to, started), it prints `@@<command> <json>`
// on stdout and waits for the test to answer one line on stdin: `ok` or `error <message>`.
// Every wait is for a selector or a text, with a timeout: no sleeps.

import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const BASE = process.env.E2E_BASE_URL;
const ARTIFACTS = process.env.E2E_ARTIFACTS;
const CHROMIUM = process.env.E2E_CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT = 20_000;
// Playwright adds --headless and a fresh temporary --user-data-dir itself.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// ---- talking to the test ------------------------------------------------------------------------------
const answers = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function ask(command, args = {}) {
  process.stdout.write(`@@${command} ${JSON.stringify(args)}\n`);
  const { value, done } = await answers.next();
  if (done) throw new Error(`the test closed stdin while answering ${command}`);
  if (value.trim() !== "ok") throw new Error(`${command} failed: ${value}`);
}

function log(message) {
  process.stdout.write(`${message}\n`);
}

// ---- browser helpers -------------------------------------------------------------------------------
async function withBrowser(run) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

/** A browser context signed in as `username` (its own sessionStorage, so its own user). */
async function signedIn(browser, username, { path = "/", beforeLoad } = {}) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  context.setDefaultTimeout(TIMEOUT);
  if (beforeLoad) await beforeLoad(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => log(`[${username}] page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") log(`[${username}] console: ${message.text()}`);
  });
  await page.goto(`${BASE}/`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("demo");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in-as").filter({ hasText: username }).waitFor();
  await waitForStatus(page, "connected");
  if (path !== "/") {
    // In-app navigation (the link in the top bar), as a person would.
    await page.evaluate((target) => {
      window.history.pushState(null, "", target);
      window.dispatchEvent(new PopStateEvent("popstate"));
    }, path);
  }
  return { context, page };
}

async function waitForStatus(page, status) {
  await page.locator(`[data-testid="connection-status"][data-status="${status}"]`).waitFor();
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  log(`screenshot ${name}.png`);
}

function column(page, title) {
  return page.locator(`[data-testid="column"][data-column-title="${title}"]`);
}

function card(scope, title) {
  return scope.locator(`[data-testid="card"][data-card-title="${title}"]`);
}

/** Polls `predicate` (an async check of state the page exposes no event for) until it holds. */
async function until(predicate, what, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The example's persistent cache entries (IndexedDB `rxgraphql-example`): cursor and card count of each. */
function cachedEntries(page) {
  return page.evaluate(
    () =>
      new Promise((resolve) => {
        const request = indexedDB.open("rxgraphql-example", 1);
        request.onupgradeneeded = () => request.result.createObjectStore("entries");
        request.onerror = () => resolve([]);
        request.onsuccess = () => {
          const db = request.result;
          const all = db.transaction("entries", "readonly").objectStore("entries").getAll();
          all.onerror = () => resolve([]);
          all.onsuccess = () => {
            db.close();
            resolve(
              all.result.map((entry) => ({
                cursor: entry.state.cursor,
                cards: entry.state.records.filter((r) => r.__typename === "Card").length,
              })),
            );
          };
        };
      }),
  );
}

function unique(prefix) {
  return `${prefix} ${Date.now().toString(36)}`;
}

/** Drag a card by its handle over column `target` (the column lights up) and drop it there. */
async function dragCard(page, cardLocator, target) {
  const from = await cardLocator.getByTestId("drag-handle").boundingBox();
  const to = await column(page, target).locator("h2").boundingBox();
  if (from === null || to === null) throw new Error("the handle or the target column is not visible");
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + 30, from.y + 10, { steps: 5 });
  await page.mouse.move(to.x + to.width / 2, to.y + to.height + 20, { steps: 15 });
  await column(page, target).and(page.locator(".over")).waitFor();
  await page.mouse.up();
}

// ---- scenarios ---------------------------------------------------------------------------------------
const scenarios = {
  /** A message posted by bob appears in alice's window, live. */
  async chat(browser) {
    const alice = await signedIn(browser, "alice", { path: "/chat/1" });
    const bob = await signedIn(browser, "bob", { path: "/chat/1" });
    await alice.page.getByTestId("message").first().waitFor();
    const text = unique("Hello alice, this is bob");
    await bob.page.getByLabel("Message").fill(text);
    // The `typing` action reaches alice through the channel's runtime state.
    await alice.page.getByTestId("typing").filter({ hasText: "bob is typing" }).waitFor();
    await bob.page.getByRole("button", { name: "Send" }).click();
    await alice.page.getByTestId("message").filter({ hasText: text }).filter({ hasText: "bob" }).waitFor();
    await screenshot(alice.page, "chat-alice-sees-bob");
    await bob.page.getByTestId("message").filter({ hasText: text }).waitFor();
    await screenshot(bob.page, "chat-bob");
  },

  /** A board alice creates in one window joins her list of boards (a list channel) in the other. */
  async boards(browser) {
    const first = await signedIn(browser, "alice");
    const second = await signedIn(browser, "alice");
    const list = (page) => page.getByTestId("my-boards");
    await list(second.page).getByRole("link").first().waitFor();
    const title = unique("Launch plan");
    await first.page.getByLabel("New board title").fill(title);
    await first.page.getByRole("button", { name: "Create board" }).click();
    await list(second.page).getByRole("link", { name: title }).waitFor();
    await list(first.page).getByRole("link", { name: title }).waitFor();
    await screenshot(second.page, "boards-list-live");
  },

  /** A card moved by alice moves in bob's window; bob's comment reaches alice. */
  async board(browser) {
    const alice = await signedIn(browser, "alice", { path: "/board/1" });
    const bob = await signedIn(browser, "bob", { path: "/board/1" });
    const title = "Fix signup e-mail typo";
    await card(column(bob.page, "To do"), title).waitFor();
    await card(column(alice.page, "To do"), title).getByTestId("move-card").selectOption({ label: "Done" });
    // Alice's own window shows the move at once (optimistic), bob's when the patch arrives.
    await card(column(alice.page, "Done"), title).waitFor();
    await card(column(bob.page, "Done"), title).waitFor();
    await card(column(bob.page, "To do"), title).waitFor({ state: "detached" });
    await screenshot(bob.page, "board-bob-sees-move");

    const comment = unique("Done and deployed");
    const bobCard = card(column(bob.page, "Done"), title);
    await bobCard.getByTestId("toggle-comments").click();
    await bobCard.getByLabel("Comment").fill(comment);
    await bobCard.getByRole("button", { name: "Comment", exact: true }).click();
    const aliceCard = card(column(alice.page, "Done"), title);
    await aliceCard.getByTestId("toggle-comments").click();
    await aliceCard.getByTestId("comment").filter({ hasText: comment }).waitFor();
    await screenshot(alice.page, "board-alice-sees-comment");
  },

  /**
   * Alice empties a card's title: her window shows it at once; the server refuses (400) and the title
   * comes back, while bob's window never shows the change. Alice's mutation is held back in the socket
   * until the optimistic state has been seen, so the check does not depend on timing.
   */
  async optimistic(browser) {
    let holding = true;
    const held = [];
    let forward = null;
    const alice = await signedIn(browser, "alice", {
      path: "/board/1",
      beforeLoad: (context) =>
        context.routeWebSocket(/\/graphql$/, (socket) => {
          const server = socket.connectToServer();
          forward = (message) => server.send(message);
          socket.onMessage((message) => {
            if (holding && String(message).includes("BoardChannelSaveCardMutation")) held.push(message);
            else server.send(message);
          });
          server.onMessage((message) => socket.send(message));
          socket.onClose((code, reason) => server.close({ code, reason }));
          server.onClose((code, reason) => socket.close({ code, reason }));
        }),
    });
    const bob = await signedIn(browser, "bob", { path: "/board/1" });
    const title = "Design the pricing page";
    const aliceCard = card(column(alice.page, "Doing"), title);
    await card(column(bob.page, "Doing"), title).waitFor();

    await aliceCard.getByTestId("card-title").click();
    await alice.page.getByLabel("Card title").fill("");
    await alice.page.getByLabel("Card title").press("Enter");
    // Shown at once, before the server has even received the write.
    const emptied = column(alice.page, "Doing").locator('[data-testid="card"][data-card-title=""]');
    await emptied.getByText("(untitled)").waitFor();
    if (held.length !== 1) throw new Error(`expected the save to be held back, held ${held.length}`);
    await screenshot(alice.page, "optimistic-shown");

    holding = false;
    forward(held.pop());
    await alice.page.getByTestId("write-error").filter({ hasText: "400" }).waitFor();
    await aliceCard.getByTestId("card-title").filter({ hasText: title }).waitFor();
    if ((await emptied.count()) !== 0) throw new Error("the refused title is still shown");
    if ((await card(column(bob.page, "Doing"), title).count()) !== 1) throw new Error("bob lost the card");
    await screenshot(alice.page, "optimistic-rolled-back");

    // The same edit with a valid title is kept, and reaches bob.
    const renamed = unique("Pricing page v2");
    await aliceCard.getByTestId("card-title").click();
    await alice.page.getByLabel("Card title").fill(renamed);
    await alice.page.getByLabel("Card title").press("Enter");
    await card(column(bob.page, "Doing"), renamed).waitFor();
    await card(column(alice.page, "Doing"), renamed).waitFor();
  },

  /** Alice drags a card by its handle into another column; bob's window shows it arrive there. */
  async drag(browser) {
    const alice = await signedIn(browser, "alice", { path: "/board/1" });
    const bob = await signedIn(browser, "bob", { path: "/board/1" });
    const title = "Write launch announcement";
    await card(column(bob.page, "To do"), title).waitFor();
    // Both windows list both viewers (the board channel's runtime state).
    for (const { page } of [alice, bob]) {
      await page.locator('[data-testid="viewer"][data-viewer="alice"]').waitFor();
      await page.locator('[data-testid="viewer"][data-viewer="bob"]').waitFor();
    }
    await dragCard(alice.page, card(column(alice.page, "To do"), title), "Doing");
    await card(column(alice.page, "Doing"), title).waitFor();
    await card(column(bob.page, "Doing"), title).waitFor();
    await card(column(bob.page, "To do"), title).waitFor({ state: "detached" });
    await screenshot(bob.page, "drag-bob-sees-card-arrive");
  },

  /**
   * A drop the server refuses rolls back: alice's move is held in the socket until her window shows the
   * card in its new column, then sent with a column of another board, which the server refuses.
   */
  async dragrefused(browser) {
    let holding = true;
    const held = [];
    let forward = null;
    const alice = await signedIn(browser, "alice", {
      path: "/board/1",
      beforeLoad: (context) =>
        context.routeWebSocket(/\/graphql$/, (socket) => {
          const server = socket.connectToServer();
          forward = (message) => server.send(message);
          socket.onMessage((message) => {
            if (holding && String(message).includes("MoveCardMutation")) held.push(message);
            else server.send(message);
          });
          server.onMessage((message) => socket.send(message));
          socket.onClose((code, reason) => server.close({ code, reason }));
          server.onClose((code, reason) => socket.close({ code, reason }));
        }),
    });
    const title = "Fix signup e-mail typo";
    await dragCard(alice.page, card(column(alice.page, "To do"), title), "Done");
    await card(column(alice.page, "Done"), title).waitFor(); // optimistic: the server has not seen it yet
    if (held.length !== 1) throw new Error(`expected the move to be held back, held ${held.length}`);
    const move = JSON.parse(String(held.pop()));
    move.payload.variables.columnId = "999999";
    holding = false;
    forward(JSON.stringify(move));
    await alice.page.getByTestId("write-error").filter({ hasText: "Not saved" }).waitFor();
    await card(column(alice.page, "To do"), title).waitFor();
    if ((await card(column(alice.page, "Done"), title).count()) !== 0) throw new Error("the refused move stayed");
    await screenshot(alice.page, "drag-rolled-back");
  },

  /** Bob searches the board's cards (the strawberry-django `cards` query) and jumps to one. */
  async search(browser) {
    const bob = await signedIn(browser, "bob", { path: "/board/1" });
    await bob.page.getByTestId("card").first().waitFor();
    await bob.page.getByLabel("Search cards").fill("pricing");
    const result = bob.page.getByTestId("search-result").filter({ hasText: "Design the pricing page" });
    await result.waitFor();
    if ((await bob.page.getByTestId("search-result").count()) !== 1) throw new Error("expected one match");
    await result.click();
    await bob.page.locator('[data-testid="card"].flash[data-card-title="Design the pricing page"]').waitFor();
    await screenshot(bob.page, "search-found");
    await bob.page.getByLabel("Search cards").fill("no card is called this");
    await bob.page.getByTestId("search-results").filter({ hasText: "No card matches" }).waitFor();
  },

  /** At phone width (390 px) the pages fit: nothing wider than the screen but the board's columns strip. */
  async phone(browser) {
    const alice = await signedIn(browser, "alice");
    await alice.page.setViewportSize({ width: 390, height: 844 });
    for (const path of ["/", "/chat/1", "/board/1"]) {
      await alice.page.evaluate((target) => {
        window.history.pushState(null, "", target);
        window.dispatchEvent(new PopStateEvent("popstate"));
      }, path);
      await alice.page.locator(path === "/" ? ".home" : path.startsWith("/chat") ? '[data-testid="message"]' : '[data-testid="card"]').first().waitFor();
      const width = await alice.page.evaluate(() => document.documentElement.scrollWidth);
      if (width > 390) throw new Error(`${path} is ${width} px wide at 390 px`);
    }
    await screenshot(alice.page, "phone-board");
  },

  /**
   * GraphiQL without a sign-in says how to sign in; a token put in its Headers tab reaches the websocket's
   * connection_init, so the subscription that was FORBIDDEN gets the room's state.
   */
  async graphiqlheaders(browser) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    const login = await page.request.post(`${BASE}/api/token/`, { data: { username: "bob", password: "demo" } });
    const { token } = await login.json();
    const query = "subscription { chatRoomChannel(roomId: 1) { ready records { __typename } } }";
    await page.goto(`${BASE}/graphql?q=${encodeURIComponent(query)}`);
    await page.getByTestId("signin-hint").filter({ hasText: "not signed in" }).waitFor();
    await page.locator(".graphiql-query-editor .CodeMirror").waitFor({ state: "attached" });
    await page.locator(".graphiql-response .CodeMirror").waitFor({ state: "attached" });
    const responseIncludes = (text) =>
      page.waitForFunction(
        (expected) =>
          (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue() ?? "").includes(expected),
        text,
      );
    await page.locator(".graphiql-execute-button").click();
    await responseIncludes("FORBIDDEN");
    await screenshot(page, "graphiql-anonymous");

    await page.getByRole("button", { name: "Headers", exact: true }).click();
    await page.evaluate((headers) => {
      const editor = document.querySelector(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror");
      if (!editor) throw new Error("no headers editor");
      editor.CodeMirror.setValue(headers);
    }, JSON.stringify({ Authorization: `Token ${token}` }));
    await page.locator(".graphiql-execute-button").click();
    await responseIncludes('"ready": true');
    await screenshot(page, "graphiql-headers-subscription");
  },

  /** The server goes away and comes back; the page reconnects and shows what was written meanwhile. */
  async restart(browser) {
    const alice = await signedIn(browser, "alice", { path: "/chat/1" });
    await alice.page.getByTestId("message").first().waitFor();
    const url = alice.page.url();

    await ask("stop");
    await alice.page.locator('[data-testid="connection-status"]:not([data-status="connected"])').waitFor();
    const text = unique("Written while the server was down");
    await ask("write_message", { room: 1, author: "bob", text });
    await screenshot(alice.page, "restart-while-down");
    await ask("start");

    await alice.page.getByTestId("message").filter({ hasText: text }).waitFor({ timeout: 30_000 });
    await waitForStatus(alice.page, "connected");
    if (alice.page.url() !== url) throw new Error(`the page navigated: ${alice.page.url()}`);
    // Still live after the reconnection: a new post arrives too.
    const after = unique("And after the restart");
    await alice.page.getByLabel("Message").fill(after);
    await alice.page.getByRole("button", { name: "Send" }).click();
    await alice.page.getByTestId("message").filter({ hasText: after }).waitFor();
    await screenshot(alice.page, "restart-caught-up");
  },

  /**
   * Alice reloads the board page while the socket is held shut: the board shows its last state from the
   * persistent cache although no network event came; bob renames a card meanwhile; when the socket opens,
   * the page resumes with `since` and shows the change.
   */
  async reload(browser) {
    let gate = "open";
    let gated = null;
    const sent = [];
    const alice = await signedIn(browser, "alice", {
      path: "/board/1",
      beforeLoad: (context) =>
        context.routeWebSocket(/\/graphql$/, (socket) => {
          if (gate === "shut") {
            gated = socket; // never connected to the server: the page gets no network event
            return;
          }
          const server = socket.connectToServer();
          socket.onMessage((message) => {
            sent.push(String(message));
            server.send(message);
          });
          server.onMessage((message) => socket.send(message));
          socket.onClose((code, reason) => server.close({ code, reason }));
          server.onClose((code, reason) => socket.close({ code, reason }));
        }),
    });
    const title = "Design the pricing page";
    await card(column(alice.page, "Doing"), title).waitFor();
    // The board's entry is in the page's IndexedDB before the reload (its write is asynchronous).
    await until(async () => (await cachedEntries(alice.page)).some((entry) => entry.cards > 0), "the cached board");

    gate = "shut";
    await alice.page.reload();
    // The board is back at once, from the cache, while the socket has not even been acknowledged.
    await card(column(alice.page, "Doing"), title).waitFor();
    await alice.page.locator('[data-testid="connection-status"]:not([data-status="connected"])').waitFor();
    if (gated === null) throw new Error("the page did not try to open its socket");
    await screenshot(alice.page, "reload-from-cache");

    const renamed = unique("Pricing page, renamed meanwhile");
    await ask("rename_card", { board: 1, author: "bob", title, to: renamed });
    gate = "open";
    sent.length = 0;
    gated.close({ code: 1012, reason: "gate opened" });
    await card(column(alice.page, "Doing"), renamed).waitFor({ timeout: 30_000 });
    await waitForStatus(alice.page, "connected");
    const resumed = sent.filter((m) => m.includes('"subscribe"') && m.includes("boardChannel"));
    if (!resumed.some((m) => /"since":"[^"]+"/.test(m))) throw new Error(`no resume with since: ${resumed.join("\n")}`);
    await screenshot(alice.page, "reload-caught-up");
  },

  /** Alice's token is revoked while she looks at a board: the app says the server refused her session. */
  async revoked(browser) {
    let current = null;
    const alice = await signedIn(browser, "alice", {
      path: "/board/1",
      beforeLoad: (context) =>
        context.routeWebSocket(/\/graphql$/, (socket) => {
          const server = socket.connectToServer();
          current = socket;
          socket.onMessage((message) => server.send(message));
          server.onMessage((message) => socket.send(message));
          socket.onClose((code, reason) => server.close({ code, reason }));
          server.onClose((code, reason) => socket.close({ code, reason }));
        }),
    });
    const title = "Design the pricing page";
    await card(column(alice.page, "Doing"), title).waitFor();
    await ask("revoke_token", { user: "alice" });
    // The next connection presents the revoked token (the server may also close the socket itself).
    current?.close({ code: 1012, reason: "reconnect" });
    await alice.page.getByTestId("auth-banner").filter({ hasText: "4403" }).waitFor({ timeout: 30_000 });
    await waitForStatus(alice.page, "unauthorized");
    // the last state stays on screen, marked as possibly out of date
    await card(column(alice.page, "Doing"), title).waitFor();
    await screenshot(alice.page, "revoked-says-so");
  },

  /** A message written while the server is down waits, marked as such, and is sent once it is back. */
  async offline(browser) {
    const alice = await signedIn(browser, "alice", { path: "/chat/1" });
    await alice.page.getByTestId("message").first().waitFor();
    await ask("stop");
    await alice.page.locator('[data-testid="connection-status"]:not([data-status="connected"])').waitFor();
    const text = unique("Written while offline");
    await alice.page.getByLabel("Message").fill(text);
    await alice.page.getByRole("button", { name: "Queue" }).click();
    const pending = alice.page.getByTestId("pending-message").filter({ hasText: text });
    await pending.and(alice.page.locator('[data-state="waiting"]')).filter({ hasText: "waiting for the connection" }).waitFor();
    await screenshot(alice.page, "offline-pending");
    await ask("start");
    await alice.page.getByTestId("message").filter({ hasText: text }).waitFor({ timeout: 30_000 });
    await pending.waitFor({ state: "detached" });
    if ((await alice.page.getByTestId("message").filter({ hasText: text }).count()) !== 1) {
      throw new Error("the queued message was posted more than once");
    }
    await screenshot(alice.page, "offline-sent");
  },

  /** GraphiQL (bundled, local assets) runs a subscription and shows the patch of a new message. */
  async graphiql(browser) {
    const external = [];
    const alice = await signedIn(browser, "alice");
    alice.page.on("request", (request) => {
      if (!request.url().startsWith(BASE)) external.push(request.url());
    });
    const query = `subscription {
  chatRoomChannel(roomId: 2) {
    cursor reset ready
    records { __typename ... on Message { id text author } }
  }
}`;
    await alice.page.goto(`${BASE}/graphql?q=${encodeURIComponent(query)}`);
    // The editors load lazily; the run button does nothing before they exist.
    await alice.page.locator(".graphiql-query-editor .CodeMirror").waitFor({ state: "attached" });
    await alice.page.locator(".graphiql-response .CodeMirror").waitFor({ state: "attached" });
    await alice.page.locator(".graphiql-execute-button").click();
    const response = () =>
      alice.page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue() ?? "");
    await alice.page.waitForFunction(
      () => (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue() ?? "").includes('"ready": true'),
    );
    const text = unique("Seen in GraphiQL");
    await ask("write_message", { room: 2, author: "carol", text, via: "mutation" });
    await alice.page.waitForFunction(
      (expected) =>
        (document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue() ?? "").includes(expected),
      text,
    );
    const shown = await response();
    if (!shown.includes('"reset": false')) throw new Error(`expected a patch, got ${shown}`);
    await screenshot(alice.page, "graphiql-patch");
    if (external.length > 0) throw new Error(`GraphiQL loaded assets from elsewhere: ${external.join(", ")}`);
  },
};

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  await withBrowser(scenario);
  log(`scenario ${name} passed`);
  process.exit(0);
} catch (error) {
  console.error(error?.stack ?? String(error));
  process.exit(1);
}
