// cenr review bundle: sorting and filtering of the index table, and the level switch of
// a label-wise protocol page. Loaded as a file ('self'), never inline; reads data-*
// attributes only and writes text through textContent, never markup.
"use strict";

function sortTable(table, column, button) {
  const th = button.closest("th");
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const numeric = th.dataset.type === "number";
  const key = (row) => {
    const value = row.cells[column].dataset.value ?? row.cells[column].textContent;
    if (!numeric) return value.toLowerCase();
    return value === "" ? Number.NEGATIVE_INFINITY : Number(value);
  };
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return ascending ? order : -order;
  });
  for (const row of rows) body.appendChild(row);
}

function filterTable(table, text, level, shown) {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  let count = 0;
  for (const row of table.tBodies[0].rows) {
    const haystack = row.textContent.toLowerCase();
    const visible = words.every((w) => haystack.includes(w)) &&
      (level === "" || row.dataset.level === level);
    row.hidden = !visible;
    if (visible) count += 1;
  }
  shown.textContent = String(count);
}

function setupIndex() {
  const table = document.getElementById("protocols");
  if (!table) return;
  table.tHead.querySelectorAll("th button").forEach((button, column) => {
    button.addEventListener("click", () => sortTable(table, column, button));
  });
  const search = document.getElementById("filter");
  const level = document.getElementById("level-filter");
  const shown = document.getElementById("shown");
  // a blind round's index has no level filter
  const update = () => filterTable(table, search.value, level ? level.value : "", shown);
  search.addEventListener("input", update);
  if (level) level.addEventListener("change", update);
  update();
}

function setupLevels() {
  const choice = document.getElementById("level-switch");
  if (!choice) return;
  const tokens = document.querySelectorAll(".text span[data-s]");
  const show = () => {
    const index = Number(choice.value);
    for (const token of tokens) {
      const shade = token.dataset.s.charAt(index);
      const weight = token.dataset.w.split(" ")[index];
      token.className = shade === "0" ? "" : "s" + shade; // below an even share: unshaded
      token.title = "weight " + weight + " for level " + choice.selectedOptions[0].dataset.code;
    }
    document.getElementById("showing").textContent = choice.selectedOptions[0].textContent;
  };
  choice.addEventListener("change", show);
}

document.addEventListener("DOMContentLoaded", () => {
  setupIndex();
  setupLevels();
  document.body.dataset.ready = "1";
});
