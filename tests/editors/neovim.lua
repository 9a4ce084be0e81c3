-- Drives `mspl lsp` from Neovim 0.7 headless through the configuration
-- docs/editors.md shows, loaded by the test as $CONFIG (`mspl` on PATH):
-- opens $FILE (the FileType autocommand starts and attaches the client),
-- waits for its diagnostics, asks for hover and go to definition at line
-- 2, column 8 (0-based), formats, and writes what it got to $OUT as JSON.
-- Run by tests/editors.rs.
vim.cmd("luafile " .. os.getenv("CONFIG"))
vim.cmd("edit " .. os.getenv("FILE"))
vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50)
local function ask(method, params)
  local answers = vim.lsp.buf_request_sync(0, method, params, 20000)
  for _, a in pairs(answers or {}) do
    if a.result ~= nil then return a.result end
  end
  return vim.NIL
end
local doc = { uri = vim.uri_from_bufnr(0) }
local diagnostics = {}
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(diagnostics, d.message)
end
local out = {
  diagnostics = diagnostics,
  hover = ask("textDocument/hover", { textDocument = doc, position = { line = 2, character = 8 } }),
  definition = ask("textDocument/definition", { textDocument = doc, position = { line = 2, character = 8 } }),
  formatting = ask("textDocument/formatting", { textDocument = doc, options = { tabSize = 2, insertSpaces = true } }),
}
local f = io.open(os.getenv("OUT"), "w")
f:write(vim.fn.json_encode(out))
f:close()
vim.lsp.stop_client(vim.lsp.get_active_clients())
vim.cmd("qa!")
