// A real etcd on loopback for the tests (shared with the benchmarks: lab/etcd.ts).
export { startEtcd, type RunningEtcd } from '../../lab/etcd.js';
