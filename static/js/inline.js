// Inline editors (crm/inline.py): Enter saves, Esc cancels; the editor's field takes the
// focus when it opens, and the field's edit button takes it back when the editor closes.
document.addEventListener("keydown", (event) => {
  const editor = event.target.closest && event.target.closest("[data-inline-editor]");
  if (!editor) return;
  if (event.key === "Escape") {
    event.preventDefault();
    if (window.htmx) window.htmx.process(editor);
    editor.querySelector("[data-inline-cancel]").click();
  } else if (event.key === "Enter" && event.target.matches("input, select")) {
    event.preventDefault();
    // htmx wires a swapped-in editor's buttons when it settles (20 ms later, more on a busy
    // machine): an Enter typed before then would click a button that does nothing yet.
    if (window.htmx) window.htmx.process(editor);
    editor.querySelector("[data-inline-save]").click();
  }
});

document.addEventListener("htmx:load", (event) => {
  const elt = event.detail.elt;
  if (!elt.matches) return;
  const target = elt.matches("[data-inline-autofocus]") ? elt : elt.querySelector("[data-inline-autofocus]");
  if (target) target.focus();
});
