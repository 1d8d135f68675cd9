// Drag and drop onto an attachments panel: the dropped files go into the panel's plain file
// input and the form is sent, exactly as choosing them and pressing "Upload" would.
(function () {
  "use strict";
  function setUp(zone) {
    var form = zone.querySelector("form[data-attachment-form]");
    var input = form && form.querySelector("input[type=file]");
    if (!input) return;
    function on(event) { event.preventDefault(); zone.classList.add("attachment-drop-active"); }
    function off() { zone.classList.remove("attachment-drop-active"); }
    zone.addEventListener("dragenter", on);
    zone.addEventListener("dragover", on);
    zone.addEventListener("dragleave", function (event) {
      if (!zone.contains(event.relatedTarget)) off();
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      off();
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      form.requestSubmit();
    });
    // Choosing files with the button sends them at once, too.
    input.addEventListener("change", function () { if (input.files.length) form.requestSubmit(); });
  }
  document.querySelectorAll("[data-attachment-drop]").forEach(setUp);
})();
