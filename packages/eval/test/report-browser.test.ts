// Opens report.html in a real headless Chromium (Debian's `chromium` through playwright-core) and
// checks that the charts and thumbnails render and that the page logs no error.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { compareReports, writeComparison } from '../src/index.js';
import { writeFixtureRun } from './html-fixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
// Skipped only on a machine without Chromium; in CI (scripts/setup.sh installs it) a missing
// browser is a failure, not a skip.
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (!available && !inCi) {
  console.warn(`report-browser.test: SKIPPED — no Chromium at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` (scripts/setup.sh does) or set CHROMIUM_PATH.`);
}

describe.runIf(!available && inCi)('Chromium in CI', () => {
  it('is installed (scripts/setup.sh installs Debian chromium)', () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`).toBe(true);
  });
});

describe.skipIf(!available)('report.html in headless Chromium', () => {
  let browser: Browser;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eval-browser-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Loads a file with the network blocked; returns the page and every console error / failed request. */
  async function open(path: string) {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    const requests: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      requests.push(url);
      return url.startsWith('file:') || url.startsWith('data:') ? route.continue() : route.abort();
    });
    await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
    return { page, problems, requests };
  }

  it('renders the bar charts, training curves and thumbnails with no console error', async () => {
    const { written } = await writeFixtureRun(join(dir, 'run'));
    const { page, problems, requests } = await open(written.html);
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return {
          kind: svg.getAttribute('data-chart'),
          width: box.width,
          height: box.height,
          bars: [...svg.querySelectorAll('rect.bar')].map((bar) => (bar as SVGGraphicsElement).getBBox().height),
          lines: [...svg.querySelectorAll('polyline.series')].map((line) => (line as SVGPolylineElement).points.numberOfItems),
        };
      }),
    );
    const bars = charts.filter((chart) => chart.kind === 'bar');
    const lines = charts.filter((chart) => chart.kind === 'line');
    expect(bars.length).toBe(2);
    expect(lines.length).toBe(3);
    for (const chart of charts) {
      expect(chart.width).toBeGreaterThan(100);
      expect(chart.height).toBeGreaterThan(100);
    }
    // every bar is drawn with a height; the perfect model's R@1 bars are full height (100 %)
    for (const chart of bars) {
      expect(chart.bars.length).toBeGreaterThan(0);
      expect(Math.min(...chart.bars)).toBeGreaterThan(0);
    }
    expect(lines.map((chart) => chart.lines[0]).sort((a, b) => a - b)).toEqual([2, 20, 20]);
    const images = await page.$$eval('figure.hit img', (imgs) =>
      imgs.map((img) => ({ complete: (img as HTMLImageElement).complete, width: (img as HTMLImageElement).naturalWidth, height: (img as HTMLImageElement).naturalHeight })),
    );
    expect(images.length).toBe(12);
    for (const image of images) {
      expect(image.complete).toBe(true);
      expect(image.width).toBeGreaterThan(0);
      expect(image.height).toBeGreaterThan(0);
    }
    expect(await page.locator('figure.hit.correct').count()).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('file:') && !url.startsWith('data:'))).toEqual([]);
    await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
    await page.close();
  });

  it('renders compare.html with bars for both runs and no console error', async () => {
    const a = await writeFixtureRun(join(dir, 'a'), { run: 'run-a', colorBlindBaseline: true });
    const b = await writeFixtureRun(join(dir, 'b'), { run: 'run-b', colorBlindBaseline: false });
    const written = await writeComparison(join(dir, 'cmp'), compareReports(a.report, b.report));
    const { page, problems } = await open(written.html);
    const series = await page.$$eval('rect.bar', (rects) => [...new Set(rects.map((rect) => rect.getAttribute('data-series')))]);
    expect(series).toEqual(['A: run-a', 'B: run-b']);
    expect(await page.locator('td.positive').count()).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    await page.close();
  });
});
