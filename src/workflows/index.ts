export { memberActivation } from './member-activation';
