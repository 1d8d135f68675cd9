// Small behaviours shared by every page. Page-specific scripts live next to their templates.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const box = document.createElement("div");
  box.className = "alert alert-danger position-fixed bottom-0 end-0 m-3";
  box.setAttribute("role", "alert");
  box.textContent = status === 409
    ? "Someone else changed this record. Reload to see their change."
    : status >= 500
      ? `The server answered with an error (${status}); the change may or may not be saved. Reload to see.`
      : `The server could not do that (error ${status}). Nothing was changed.`;
  document.body.appendChild(box);
  setTimeout(() => box.remove(), 6000);
});

// A company picker swaps fresh <option>s into its select without a "change" event; fire one so
// whatever follows the select (the deal form's contacts list) updates too.
document.body.addEventListener("htmx:afterSwap", (event) => {
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (source && source.matches("[data-company-picker]") && event.target.matches("select")) {
    event.target.dispatchEvent(new Event("change", { bubbles: true }));
  }
});
