// Headless Chromium for the browser tests and scripts/screenshots.ts, driven by playwright-core with the
// system's Chromium (playwright's own browser downloads are not used): `apt-get install -y chromium`.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface Chromium {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors, as they happen. */
  errors: string[];
  close(): Promise<void>;
}

/** A headless Chromium with a fresh user-data-dir (removed by close) and one page. */
export async function launchChromium(options: { width?: number; height?: number; deviceScaleFactor?: number } = {}): Promise<Chromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (CI's .ci/run does), or set CHROMIUM_PATH`);
  }
  const userDataDir = mkdtempSync(join(tmpdir(), "tsgrad-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: options.width ?? 1240, height: options.height ?? 1500 },
    deviceScaleFactor: options.deviceScaleFactor ?? 1,
    acceptDownloads: true,
    timeout: 60_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Drags the mouse through `points` (page coordinates relative to `selector`'s top-left), pressed. */
export async function drawStroke(page: Page, selector: string, points: [number, number][]): Promise<void> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`drawStroke: ${selector} is not visible`);
  const [first, ...rest] = points;
  await page.mouse.move(box.x + first[0], box.y + first[1]);
  await page.mouse.down();
  for (const [x, y] of rest) await page.mouse.move(box.x + x, box.y + y, { steps: 3 });
  await page.mouse.up();
}

/** A handwritten-looking 7 on the 280×280 pad: a top bar and a slanted stem. */
export const SEVEN: [number, number][][] = [
  [[80, 70], [120, 66], [160, 64], [200, 66]],
  [[200, 66], [185, 110], [168, 150], [152, 190], [140, 220]],
];

/** A 3: two bowls. */
export const THREE: [number, number][][] = [[[92, 80], [120, 60], [165, 64], [178, 95], [160, 125], [130, 138], [165, 148], [185, 180], [170, 212], [130, 224], [92, 208]]];
