-- Drives `mspl lsp` from Neovim 0.7 (`vim.lsp.start_client`), headless:
-- opens $FILE in $ROOT, waits for its diagnostics, asks for hover and go
-- to definition at line 2, column 8 (0-based), formats, and writes what it
-- got to $OUT as JSON. Run by tests/editors.rs.
local diagnostics = nil
local client_id = vim.lsp.start_client({
  cmd = { os.getenv("MSPL"), "lsp" },
  root_dir = os.getenv("ROOT"),
  handlers = {
    ["textDocument/publishDiagnostics"] = function(_, result)
      if result.uri == vim.uri_from_fname(os.getenv("FILE")) then
        diagnostics = result.diagnostics
      end
    end,
  },
})
vim.cmd("edit " .. os.getenv("FILE"))
vim.lsp.buf_attach_client(0, client_id)
vim.wait(20000, function() return diagnostics ~= nil end, 50)
local client = vim.lsp.get_client_by_id(client_id)
local doc = { uri = vim.uri_from_bufnr(0) }
local function ask(method, params)
  local r = client.request_sync(method, params, 20000, 0)
  if r == nil then return vim.NIL end
  return r.result or vim.NIL
end
local out = {
  diagnostics = diagnostics or vim.NIL,
  hover = ask("textDocument/hover", { textDocument = doc, position = { line = 2, character = 8 } }),
  definition = ask("textDocument/definition", { textDocument = doc, position = { line = 2, character = 8 } }),
  formatting = ask("textDocument/formatting", { textDocument = doc, options = { tabSize = 2, insertSpaces = true } }),
}
local f = io.open(os.getenv("OUT"), "w")
f:write(vim.fn.json_encode(out))
f:close()
client.stop()
vim.cmd("qa!")
