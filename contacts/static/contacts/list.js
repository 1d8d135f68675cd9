// Row checkboxes of the companies/contacts lists: "select all" and the bulk bar's state.
(() => {
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const all = form.querySelector("[data-select-all]");
  const boxes = () => Array.from(form.querySelectorAll("input[name=ids]"));
  const count = form.querySelector("[data-bulk-count]");
  const submit = form.querySelector("[data-bulk-submit]");
  const template = count ? count.dataset.template || "" : "";
  const refresh = () => {
    const ticked = boxes().filter((b) => b.checked).length;
    if (submit) submit.disabled = ticked === 0;
    if (count) count.textContent = ticked ? `${ticked} ✓` : count.dataset.empty;
    if (all) all.checked = ticked > 0 && ticked === boxes().length;
  };
  if (count) count.dataset.empty = count.textContent;
  form.addEventListener("change", (event) => {
    if (event.target === all) boxes().forEach((b) => { b.checked = all.checked; });
    refresh();
  });
  refresh();
})();
