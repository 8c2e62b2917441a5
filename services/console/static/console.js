// Progress bars for uploads: with JavaScript the form is sent by XMLHttpRequest, whose upload
// events fill the form's <progress>; without it the form posts as any form does.
(function () {
  "use strict";
  function send(form, event) {
    var bar = document.getElementById(form.getAttribute("data-progress"));
    if (!bar || !window.XMLHttpRequest || !window.FormData) { return; }
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    bar.hidden = false;
    bar.value = 0;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.addEventListener("load", function () {
      bar.value = 100;
      var action = new URL(form.action, window.location.href).href;
      if (xhr.responseURL && xhr.responseURL !== action) {
        window.location.assign(xhr.responseURL);
      } else {
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    });
    xhr.addEventListener("error", function () { form.submit(); });
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.classList.contains("upload")) { send(form, event); }
  });
})();
