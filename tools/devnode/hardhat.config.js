// Hardhat 2 dev node for flexledger's JSON-RPC tests: London rules (no PUSH0, like Energy
// Web Chain), a fixed 8,000,000 block gas limit, automine, and the funded development
// accounts listed in devnode.json (shared with tests/devnode.py, so both sides agree).
// FLEXLEDGER_DEVNODE_CHAIN_ID overrides the chain id (tests use it to check mismatches).
const devnode = require("./devnode.json");

const chainId = Number(process.env.FLEXLEDGER_DEVNODE_CHAIN_ID || devnode.chainId);

module.exports = {
  networks: {
    hardhat: {
      chainId,
      hardfork: devnode.hardfork,
      blockGasLimit: devnode.blockGasLimit,
      mining: { auto: true, interval: 0 },
      accounts: devnode.accounts.map(({ privateKey }) => ({
        privateKey,
        balance: devnode.balanceWei,
      })),
    },
  },
};
