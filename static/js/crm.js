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

// Behaviours declared in markup, so no page needs an inline script or on*= handler (the
// Content-Security-Policy refuses both):
//   <form data-confirm="Delete this?">          asks before submitting;
//   <select data-autosubmit>                     submits its form when changed, first emptying
//   <select data-autosubmit-clear="team">        the named field (a person or a team, not both);
//   <input data-select-on-focus>                 selects its text when clicked (a link to copy).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

document.addEventListener("change", (event) => {
  const field = event.target;
  if (!field.matches || !field.matches("[data-autosubmit]") || !field.form) return;
  const clear = field.dataset.autosubmitClear;
  if (clear && field.form.elements[clear]) field.form.elements[clear].value = "";
  field.form.submit();
});

document.addEventListener("click", (event) => {
  if (event.target.matches && event.target.matches("input[data-select-on-focus]")) event.target.select();
});
