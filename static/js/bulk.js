// Bulk bars of the lists (crm/bulk_actions.py): row checkboxes, "select all", the count of
// ticked rows, and only the inputs the chosen action takes. Row checkboxes may sit outside
// the bar's form (form="bulk-form"), so a list's inline editors are not inside it.
document.querySelectorAll("form[data-bulk-form]").forEach((form) => {
  const owned = () => Array.from(form.elements);
  const all = owned().find((e) => e.matches("[data-select-all]"));
  const boxes = () => owned().filter((e) => e.name === "ids");
  const count = form.querySelector("[data-bulk-count]");
  const submit = form.querySelector("[data-bulk-submit]");
  const action = form.querySelector("[data-bulk-action]");
  const empty = count ? count.textContent : "";
  const refresh = () => {
    const ticked = boxes().filter((b) => b.checked).length;
    if (submit) submit.disabled = ticked === 0;
    if (count) count.textContent = ticked ? count.dataset.selected.replace("%(count)s", ticked) : empty;
    if (all) all.checked = ticked > 0 && ticked === boxes().length;
    const chosen = action ? action.value : "";
    form.querySelectorAll("[data-bulk-param]").forEach((param) => {
      param.hidden = !param.dataset.bulkParam.split(" ").includes(chosen);
    });
  };
  document.addEventListener("change", (event) => {
    if (event.target.form !== form) return;
    if (event.target === all) boxes().forEach((b) => { b.checked = all.checked; });
    refresh();
  });
  refresh();
});
