;;; Drives `mspl lsp` from Emacs with Eglot, in batch, through the
;;; configuration docs/editors.md shows, loaded by the test as $CONFIG
;;; (`mspl` on PATH): opens $FILE (the mode's hook starts Eglot), waits for
;;; its diagnostics (through Flymake), asks for hover and go to definition
;;; at line 3, column 9 (1-based), formats, and writes what it got to $OUT
;;; as JSON. Run by tests/editors.rs.
(let ((default-directory "/usr/share/emacs/site-lisp/elpa/"))
  (when (file-directory-p default-directory)
    (normal-top-level-add-subdirs-to-load-path)))
(require 'eglot)
(require 'json)
(load (getenv "CONFIG"))
(let* ((root (file-name-as-directory (getenv "ROOT")))
       (file (getenv "FILE"))
       (project-find-functions (list (lambda (_dir) (cons 'transient root))))
       (result nil))
  (find-file file)
  ;; `eglot-ensure' starts the server after the next command, from
  ;; `post-command-hook'; batch Emacs runs no command loop, so run it once.
  (run-hooks 'post-command-hook)
  (let ((deadline (+ (float-time) 20)))
    (while (and (null (eglot-current-server)) (< (float-time) deadline))
      (accept-process-output nil 0.1)))
  (let ((server (eglot-current-server)))
    (let ((deadline (+ (float-time) 20)))
      (while (and (null (flymake-diagnostics)) (< (float-time) deadline))
        (accept-process-output nil 0.1)))
    (goto-char (point-min))
    (forward-line 2)
    (forward-char 8)
    (let* ((pos (eglot--TextDocumentPositionParams))
           (hover (jsonrpc-request server :textDocument/hover pos))
           (definition (jsonrpc-request server :textDocument/definition pos))
           (formatting (jsonrpc-request server :textDocument/formatting
                                        (list :textDocument (eglot--TextDocumentIdentifier)
                                              :options (list :tabSize 2 :insertSpaces t)))))
      (setq result
            (list :diagnostics (vconcat (mapcar #'flymake-diagnostic-text (flymake-diagnostics)))
                  :hover hover :definition definition :formatting formatting)))
    (with-temp-file (getenv "OUT")
      (insert (json-encode result)))
    (eglot-shutdown server)))
(kill-emacs 0)
