document.querySelectorAll('tr[data-href]').forEach(function(tr){
  tr.addEventListener('click',function(e){ if(e.target.closest('a,button')) return; location.href=tr.dataset.href; });
});
document.querySelectorAll('input[data-filter-table]').forEach(function(input){
  var table=document.getElementById(input.dataset.filterTable); if(!table) return;
  input.addEventListener('input',function(){
    var term=input.value.trim().toLowerCase();
    table.querySelectorAll('tbody tr').forEach(function(tr){
      tr.hidden = term!=='' && tr.textContent.toLowerCase().indexOf(term)<0;
    });
  });
});
document.querySelectorAll('button[data-copy]').forEach(function(b){
  b.addEventListener('click',function(){ if(navigator.clipboard) navigator.clipboard.writeText(b.dataset.copy); b.textContent='Copied'; });
});
