// Small behaviours shared by every page. Page-specific scripts live next to their templates.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const box = document.createElement("div");
  box.className = "alert alert-danger position-fixed bottom-0 end-0 m-3";
  box.setAttribute("role", "alert");
  box.textContent = status === 409
    ? "Someone else changed this record. Reload to see their change."
    : `The server could not do that (error ${status}). Nothing was changed.`;
  document.body.appendChild(box);
  setTimeout(() => box.remove(), 6000);
});
