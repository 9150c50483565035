// self time of a function name, split by caller chain (3 levels)
const fs=require('fs');const p=JSON.parse(fs.readFileSync(process.argv[2]));const name=process.argv[3];const depth=+(process.argv[4]||3);
const byId=new Map(p.nodes.map(n=>[n.id,n]));const parent=new Map();for(const n of p.nodes)for(const c of n.children||[])parent.set(c,n.id);
const self=new Map();p.samples.forEach((id,i)=>self.set(id,(self.get(id)||0)+(p.timeDeltas[i]||0)));
let busy=0;for(const [id,v] of self){const f=byId.get(id).callFrame.functionName;if(f!=='(idle)'&&f!=='(program)')busy+=v;}
const agg=new Map();for(const [id,v] of self){const n=byId.get(id);if(n.callFrame.functionName!==name)continue;let chain=[];let cur=parent.get(id);for(let i=0;i<depth&&cur!==undefined;i++){const f=byId.get(cur).callFrame;chain.push(`${f.functionName}:${(f.url.split('/').pop())}:${f.lineNumber}`);cur=parent.get(cur);}const k=chain.join(' < ');agg.set(k,(agg.get(k)||0)+v);}
for(const [k,v] of [...agg].sort((a,b)=>b[1]-a[1]).slice(0,15))console.log((100*v/busy).toFixed(1)+'%',(v/1000).toFixed(0)+'ms',k);
