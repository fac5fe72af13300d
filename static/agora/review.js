"use strict";
// Keyboard first: A accepts, R rejects, C opens the correction (not while typing).
document.addEventListener("keydown", (e) => {
  const typing = e.target.closest("textarea, input, select");
  if (typing && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    document.getElementById("review-correct")?.click();
    e.preventDefault();
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  const key = e.key.toLowerCase();
  if (key === "a") document.getElementById("review-accept")?.click();
  else if (key === "r") document.getElementById("review-reject")?.click();
  else if (key === "c") {
    const box = document.getElementById("review-correction");
    if (box) { box.closest("details").open = true; box.focus(); e.preventDefault(); }
  } else return;
});
