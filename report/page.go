package report

// pageHTML is the report's template: everything inline, no scripts.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px auto; max-width: 1200px; color: #1b1f24; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.verdict { padding: 12px 16px; border-radius: 6px; font-size: 16px; font-weight: 600; margin: 16px 0; }
.pass { background: #dafbe1; border: 1px solid #4ac26b; }
.fail { background: #ffebe9; border: 1px solid #ff8182; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: #57606a; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: #cf222e; font-weight: 600; }
.problem { border-left: 4px solid #cf222e; background: #fff8f8; padding: 8px 12px; margin: 8px 0; }
.problem .meaning { color: #57606a; }
pre.cmd { background: #f6f8fa; padding: 10px; border-radius: 6px; white-space: pre-wrap; word-break: break-all; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div>Checked {{time .CheckedAt}} by auditlog-exporter {{.Version}}</div>
{{if .Summary.OK}}<div class="verdict pass" id="verdict">PASS: every window and day checked is complete and intact</div>
{{else}}<div class="verdict fail" id="verdict">FAIL: {{len .Problems}} problem(s) found</div>{{end}}

{{if .Problems}}<h2>Problems</h2>
{{range .Problems}}<div class="problem"><div><b>{{.Status}}</b>: {{.What}} in <span class="mono">{{.Sink}}</span></div>
<div>{{.Detail}}</div><div class="meaning">What it means: {{.Meaning}}</div></div>
{{end}}{{end}}

<h2>What was checked</h2>
<dl class="facts">
<dt>Range</dt><dd>{{time .From}} to {{time .To}}</dd>
<dt>Compared</dt><dd>{{.Mode}}</dd>
<dt>Windows × sinks</dt><dd>{{len .Windows}} ({{range $s, $n := .Summary.WindowStatuses}}{{$n}} {{$s}} {{end}})</dd>
<dt>Days × sinks</dt><dd>{{len .Days}} ({{range $s, $n := .Summary.DayStatuses}}{{$n}} {{$s}} {{end}})</dd>
<dt>Records</dt><dd>{{.Summary.Records}}</dd>
<dt>Public keys given</dt><dd>{{if .Keys}}{{range .Keys}}<span class="mono">{{.ID}}</span> ({{.File}}) {{end}}{{else}}none: signatures were reported, not required{{end}}</dd>
<dt>Signed by</dt><dd>{{if .Summary.SignedBy}}{{range .Summary.SignedBy}}<span class="mono">{{.}}</span> {{end}}{{else}}nothing is signed{{end}}</dd>
<dt>Objects under Object Lock</dt><dd>{{.Summary.ObjectsLocked}} of {{len .Windows}}</dd>
{{if .Summary.WindowsRepaired}}<dt>Repaired in this run</dt><dd>{{.Summary.WindowsRepaired}} window(s)</dd>{{end}}
</dl>

<h2>Records per day by category</h2>
{{with .Chart}}{{if .Bars}}<svg width="{{.Width}}" height="{{add .Height 20}}" role="img" aria-label="records per day by category">
{{range .Ticks}}<line x1="55" x2="{{$.Chart.Width}}" y1="{{.Y}}" y2="{{.Y}}" stroke="#eaeef2"/><text x="50" y="{{.Y}}" font-size="10" text-anchor="end" dominant-baseline="middle" fill="#57606a">{{.Label}}</text>
{{end}}{{range .Bars}}{{$b := .}}{{range .Parts}}<rect x="{{$b.X}}" y="{{.Y}}" width="{{$.Chart.BarWidth}}" height="{{.H}}" fill="{{.Color}}"><title>{{$b.Date}} {{.Category}}: {{.N}}</title></rect>
{{end}}{{if le (len $.Chart.Bars) 14}}<text x="{{add $b.X (half $.Chart.BarWidth)}}" y="{{add $.Chart.Height 14}}" font-size="10" text-anchor="middle" fill="#57606a">{{slice $b.Date 5}}</text>{{end}}
{{end}}</svg>
<div class="legend">{{range .Legend}}<span><i style="background: {{.Color}}"></i>{{.Category}} ({{.N}})</span>{{end}}</div>
<div class="mono">{{with index .Bars 0}}{{.Date}}{{end}} … {{with index .Bars (len .Bars | add -1)}}{{.Date}}{{end}}</div>
{{else}}<div>No records.</div>{{end}}{{end}}

<h2>Days</h2>
<table>
<tr><th>Date</th><th>Account</th><th>Sink</th><th>Status</th><th class="num">Windows</th><th class="num">Records</th><th class="num">Seals</th><th>Newest seal</th><th>Signed by</th><th>Detail</th></tr>
{{range .Days}}<tr><td class="mono">{{.Date}}</td><td>{{.Account}}</td><td class="mono">{{.Sink}}</td><td class="{{if good .Status}}ok{{else}}bad{{end}}">{{.Status}}</td><td class="num">{{.Windows}}</td><td class="num">{{.Records}}</td><td class="num">{{.Generations}}</td><td class="mono">{{short .Seal}}</td><td class="mono">{{join .SignedBy " "}}</td><td>{{.Detail}}{{if gt .Generations 1}} Sealed again: {{.Reason}}{{end}}</td></tr>
{{end}}</table>

<h2>Windows</h2>
<table>
<tr><th>Window (UTC)</th><th>Account</th><th>Sink</th><th class="num">Source</th><th class="num">Exported</th><th>Status</th><th>SHA-256</th><th>Signed by</th><th>Lock</th><th>Detail</th></tr>
{{range .Windows}}<tr><td class="mono">{{span .Start .End}}</td><td>{{.Account}}</td><td class="mono">{{.Sink}}</td><td class="num">{{count .Source}}</td><td class="num">{{count .Exported}}</td><td class="{{if good .Status}}ok{{else}}bad{{end}}">{{.Status}}{{if .Repaired}} (repaired){{end}}</td><td class="mono">{{short .SHA256}}</td><td class="mono">{{.SignedBy}}</td><td class="mono">{{.Lock}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>

<h2>Reproduce</h2>
<p>Run this with the same configuration (read-only access to the sinks is enough with <code>--evidence-only</code>):</p>
<pre class="cmd">{{.Command}}</pre>
</body>
</html>
`
