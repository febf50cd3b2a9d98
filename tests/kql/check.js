#!/usr/bin/env node
// Checks KQL with Microsoft's Kusto.Language (npm @kusto/language-service-next).
// stdin:  {"schemas": {"classic": {Table: {column: kustoType}}, ...},
//          "checks": [{"schema": "classic", "query": "..."}]}
// stdout: {"results": [{"ok", "diagnostics": [{severity, message, start, length}],
//          "string_literals": [decoded value of each string literal token, in order]}]}
// With --lines, the first stdin line is {"schemas": …} and every later line one check; each
// answer is one line (a long-lived checker for property-based tests).
'use strict';
const fs = require('fs');

// The package is a Bridge.NET build with no exports: the runtime defines Bridge/System,
// then the library defines the global Kusto.
require('@kusto/language-service-next/bridge.min.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');
const K = Kusto.Language;
const S = K.Symbols;

function globalsFor(tables) {
  const symbols = Object.entries(tables).map(([table, columns]) => {
    const cols = Object.entries(columns).map(([name, type]) => {
      const scalar = S.ScalarTypes.GetSymbol(type);
      if (!scalar) throw new Error(`unknown Kusto type ${type} for ${table}.${name}`);
      // C# optional parameters must be passed explicitly in the Bridge build.
      return new S.ColumnSymbol(name, scalar, null, null, null, null);
    });
    return new S.TableSymbol.$ctor4(table, cols);
  });
  return K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.ctor('db', symbols));
}

function items(list) {
  const out = [];
  for (let i = 0; i < list.Count; i++) out.push(list.getItem(i));
  return out;
}

function check(globals, query) {
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const diagnostics = items(code.GetDiagnostics()).map(d => ({
    severity: d.Severity, message: d.Message, start: d.Start, length: d.Length,
  }));
  const literals = code.GetLexicalTokens()
    .filter(t => t.Kind === K.Syntax.SyntaxKind.StringLiteralToken)
    .map(t => K.KustoFacts.GetStringLiteralValue(t.Text));
  return {
    ok: !diagnostics.some(d => d.severity === K.DiagnosticSeverity.Error),
    diagnostics,
    string_literals: literals,
  };
}

function globalsOf(schemas) {
  const globals = {};
  for (const [name, tables] of Object.entries(schemas)) globals[name] = globalsFor(tables);
  return globals;
}

if (process.argv.includes('--lines')) {
  let globals = null;
  require('readline').createInterface({ input: process.stdin }).on('line', line => {
    const message = JSON.parse(line);
    if (globals === null) { globals = globalsOf(message.schemas); return; }
    process.stdout.write(JSON.stringify(check(globals[message.schema], message.query)) + '\n');
  });
} else {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const globals = globalsOf(input.schemas);
  const results = input.checks.map(c => check(globals[c.schema], c.query));
  process.stdout.write(JSON.stringify({ results }));
}
