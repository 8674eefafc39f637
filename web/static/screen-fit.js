/*
 * Fitting a screen's messages into its window. A wall has no scroll bar and no one to scroll it,
 * so every message it shows must lie wholly inside the window, whatever the window (a 1080p TV,
 * a laptop, a phone) and however long the messages or tall their pictures.
 *
 * Billboard: the wall is cut into a grid of as many cells as messages show, with the number of
 * columns that gives the largest readable cell; pictures take what their card's text leaves, and a
 * card whose text still does not fit gets smaller type.
 * Chat screen: bubbles stack from the bottom, newest last; a bubble taller than the wall gets
 * smaller type, and the oldest bubbles pushed above the top are left out until newer ones leave.
 */

const STEP = 0.85;
const MIN_SCALE = 0.35;
// A billboard card with room to spare shows its text larger, up to this much.
const MAX_SCALE = 1.6;
// A card reads best somewhat wider than tall: a cell's height counts fully, its width by this much.
const CELL_ASPECT = 1.5;

/** The columns and rows that give `count` cards the largest cell in a width × height box. */
export function gridFor(count, width, height, gap) {
  const n = Math.max(count, 1);
  let best = { cols: 1, rows: n, score: -Infinity };
  for (let cols = 1; cols <= n; cols += 1) {
    const rows = Math.ceil(n / cols);
    const cellW = (width - (cols - 1) * gap) / cols;
    const cellH = (height - (rows - 1) * gap) / rows;
    const score = Math.min(cellW / CELL_ASPECT, cellH);
    if (score > best.score) best = { cols, rows, score };
  }
  return best;
}

function overflows(el) {
  return el.scrollHeight > el.clientHeight + 1;
}

/**
 * Smaller type, step by step from `start`, until the card's content fits its box (or the type is
 * too small to read).
 * Only the type shrinks (screen.css scales it by --fit): the card's frame stays as its neighbours'.
 */
function shrinkToFit(card, start = 1) {
  let scale = start;
  card.style.setProperty("--fit", String(scale));
  while (overflows(card) && scale > MIN_SCALE) {
    scale *= STEP;
    card.style.setProperty("--fit", String(scale));
  }
}

function fitBillboard(wall, cards) {
  const gap = parseFloat(getComputedStyle(wall).rowGap) || 0;
  const { cols, rows } = gridFor(cards.length, wall.clientWidth, wall.clientHeight, gap);
  wall.style.setProperty("--cols", String(cols));
  wall.style.setProperty("--rows", String(rows));
  cards.forEach((card) => shrinkToFit(card, MAX_SCALE));
}

function fitChat(wall, cards) {
  cards.forEach((card) => {
    card.hidden = false;
  });
  cards.forEach((card) => shrinkToFit(card));
  // Packed from the bottom: leaving out an old bubble moves none of the newer ones.
  const top = wall.getBoundingClientRect().top;
  for (const card of cards) {
    if (card.getBoundingClientRect().top < top - 1) card.hidden = true;
  }
}

/** Lay the wall's cards out to fit; call after every redraw and whenever the wall's size changes. */
export function fitWall(wall, mode) {
  const cards = [...wall.querySelectorAll(".wall-card")];
  wall.dataset.fitted = "false";
  if (mode === "chat") fitChat(wall, cards);
  else fitBillboard(wall, cards);
  wall.dataset.fitted = "true";
}

/** Refit on the next frame (at most once per frame) when the wall resizes or a picture loads. */
export function keepFitted(wall, mode) {
  let queued = false;
  const refit = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fitWall(wall, mode());
    });
  };
  new ResizeObserver(refit).observe(wall);
  // A picture's size is known only once it loads (load events do not bubble: listen in capture).
  wall.addEventListener("load", refit, true);
  wall.addEventListener("loadedmetadata", refit, true);
  return refit;
}
