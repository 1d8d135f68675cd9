// Bulk bars of the lists (crm/bulk_actions.py): row checkboxes, "select all", the count of
// ticked rows, and only the inputs the chosen action takes.
document.querySelectorAll("form[data-bulk-form]").forEach((form) => {
  const all = form.querySelector("[data-select-all]");
  const boxes = () => Array.from(form.querySelectorAll("input[name=ids]"));
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
  form.addEventListener("change", (event) => {
    if (event.target === all) boxes().forEach((b) => { b.checked = all.checked; });
    refresh();
  });
  refresh();
});
