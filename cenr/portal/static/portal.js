// cenr portal: live progress. While a job on the page is not done, poll the JSON API
// and update its counts (textContent only, never markup).
"use strict";

async function refresh() {
  const rows = document.querySelectorAll("[data-job][data-status]");
  const pending = Array.from(rows).filter((row) => row.dataset.status !== "done");
  if (pending.length === 0) return;
  const response = await fetch("/api/jobs", { credentials: "same-origin" });
  if (!response.ok) return;
  const jobs = new Map((await response.json()).map((job) => [job.job, job]));
  let reload = false;
  for (const row of pending) {
    const job = jobs.get(row.dataset.job);
    if (!job) continue;
    for (const cell of row.querySelectorAll("[data-field]")) {
      cell.textContent = String(job[cell.dataset.field]);
    }
    const bar = row.querySelector("progress");
    if (bar) { bar.max = job.total || 1; bar.value = job.done + job.failed; }
    if (job.status === "done" && row.id === "job-status") reload = true;
    row.dataset.status = job.status;
  }
  if (reload) window.location.reload();  // the job page gains its downloads
  else setTimeout(refresh, 2000);
}

document.addEventListener("DOMContentLoaded", () => setTimeout(refresh, 1000));
