// The style sheet inlined into `shadowvisor web`'s page (the page itself: web-page.ts; its script:
// web-page-script.ts).

export const WEB_CSS = String.raw`
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2rem auto;max-width:1360px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.55rem;margin:0 0 .2rem}h2{font-size:1.12rem;margin:1.4rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
code{background:#f2f4f7;padding:.05rem .3rem;border-radius:4px}
.lede{margin:.2rem 0 .3rem;max-width:70rem}.meta{color:#57606a;font-size:.86rem;margin:.15rem 0}
.grid{display:grid;grid-template-columns:minmax(330px,400px) 1fr;gap:1.2rem;align-items:start}
.panel{border:1px solid #d0d7de;border-radius:8px;padding:.8rem 1rem;background:#f6f8fa}
fieldset{border:0;margin:0 0 .6rem;padding:0}legend{font-weight:600;padding:0;margin-bottom:.2rem}
.mode{display:block;padding:.3rem .4rem;border-radius:6px;cursor:pointer;margin:.1rem 0;border:1px solid transparent}
.mode:hover{background:#eef1f4}.mode input{margin-right:.35rem}.mode small{display:block;color:#57606a;margin-left:1.45rem;line-height:1.3}
.mode.sel{background:#fff;border-color:#d0d7de}
.knobs{display:grid;grid-template-columns:auto 1fr;gap:.35rem .7rem;align-items:center;margin:.4rem 0 .6rem}
.knobs label{font-size:.92rem;line-height:1.2}.knobs label small{color:#57606a;font-size:.78rem}.knobs select,.knobs input[type=number]{font:inherit;padding:.1rem .3rem;width:8rem}
.derived{font-size:.85rem;color:#3d444d;margin:.3rem 0 .7rem}
.buttons{display:flex;gap:.5rem;flex-wrap:wrap}
button{font:inherit;padding:.35rem .9rem;border-radius:6px;border:1px solid #8c959f;background:#fff;cursor:pointer}
button.primary{background:#1f6feb;border-color:#1f6feb;color:#fff;font-weight:600}button:disabled{opacity:.45;cursor:default}
.backend{font-size:.8rem;color:#57606a;margin-top:.6rem}
.runhead{font-weight:600;margin:0 0 .3rem}.runhead .sw{margin-right:.35rem}
.verdict{font-size:1.12rem;font-weight:600;padding:.45rem .7rem;border-radius:6px;margin:.3rem 0 .6rem;background:#f6f8fa;border-left:5px solid #8c959f}
.verdict.ok{background:#dafbe1;border-color:#1a7f37;color:#0f5323}.verdict.bad{background:#ffebe9;border-color:#c4122f;color:#82071e}
.verdict.oom{background:#fff1e5;border-color:#b35900;color:#6b3100}.verdict.running{background:#ddf4ff;border-color:#1f6feb;color:#0a3069}
.bar{height:6px;background:#eaeef2;border-radius:3px;overflow:hidden;margin:.2rem 0 .5rem}.bar>i{display:block;height:100%;background:#1f6feb}
.counters{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.35rem;margin:.4rem 0 .7rem}
.counter{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.25rem .55rem}
.counter b{display:block;font-size:1.15rem;font-variant-numeric:tabular-nums}.counter span{font-size:.78rem;color:#57606a}
.counter.alert b{color:#c4122f}.counter.warn b{color:#b35900}.counter.good b{color:#1a7f37}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #eaeef2;padding:.22rem .5rem;text-align:left;white-space:nowrap}
th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.line{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:normal;color:#3d444d}
.badge{display:inline-block;padding:0 .45rem;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:#8c959f}
.b-running{background:#1f6feb}.b-ok{background:#1a7f37}.b-crash{background:#c4122f}.b-oom{background:#b35900}.b-other{background:#6e7781}
.vbar{display:inline-block;width:70px;height:6px;background:#eaeef2;border-radius:3px;vertical-align:middle;margin-left:.4rem;overflow:hidden}.vbar>i{display:block;height:100%;background:#1f6feb}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:.8rem 1.2rem}
.chart h3{font-size:.95rem;margin:.2rem 0 0}.chart p{font-size:.8rem;color:#57606a;margin:0 0 .2rem}
svg.plot{display:block;width:100%;height:auto;background:#fff;border:1px solid #d0d7de;border-radius:6px}
svg.plot text{font-family:system-ui,sans-serif}.tick{font-size:11px;fill:#57606a}.gridline{stroke:#eaeef2}.axis{stroke:#8c959f}
.endlabel{font-size:11px;font-weight:600}
.sw{display:inline-block;width:1.6em;height:0;border-top:3px solid;vertical-align:middle}
.sw.pin{border-top-style:dashed}.sw.none{border-top-style:dotted}
#runs tr{cursor:pointer}#runs tr.viewed td{background:#fff8c5}#runs tr:hover td{background:#eef4ff}
#runs td.verdictcell{white-space:normal;min-width:14rem;font-weight:600}#runs td.setup{white-space:normal;min-width:10rem;color:#3d444d}.v-ok{color:#1a7f37}.v-bad{color:#c4122f}.v-oom{color:#b35900}.v-running{color:#1f6feb}#runs table{font-size:12.5px}#runs th,#runs td{padding:.2rem .4rem}.scroll{overflow-x:auto}
.empty{color:#57606a;font-style:italic}
.hint{display:block;color:#57606a;font-size:.8rem;margin-top:.2rem}#tracebox iframe{width:100%;height:1100px;border:1px solid #d0d7de;border-radius:6px}.tracelinks{margin:.5rem 0}
.explain{max-width:75rem}.explain p{margin:.45rem 0}
.err{color:#82071e;background:#ffebe9;padding:.4rem .7rem;border-radius:6px}
@media (max-width:1000px){.grid{grid-template-columns:1fr}.charts{grid-template-columns:1fr}}
`;
