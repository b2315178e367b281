// A replacement whose name is misspelt: the CLI refuses the module before exploring anything.
export default {
  name: 'typo',
  description: 'rfc-v1-fixed with a misspelt piece name',
  base: 'rfc-v1-fixed',
  replace: {
    __pkvm_host_share_dma_pgae(): number {
      return 0;
    },
  },
};
