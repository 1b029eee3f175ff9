/**
 * Which failures are a dependency that is away (503, safe to retry) and which are ours (500). The shapes are the ones
 * the SDK's client and pg throw; the aborted update was first seen as a 500 in the continue-as-new storm.
 */
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { unavailableDependency, updateAborted } from '../../src/api/dependencies';

const grpc = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });

describe('a failure of a dependency', () => {
  it('an update the server gave up on because its workflow task failed: Temporal, and the update may be sent again', () => {
    for (const details of [
      'Unable to perform workflow execution update due to unexpected workflow task failure.',
      'Unable to perform workflow execution update due to Workflow Task in failed state.',
    ]) {
      const err = new ServiceError('Workflow Update failed', { cause: grpc(9, details) });
      expect(updateAborted(err)).toBe(true);
      expect(unavailableDependency(err)).toBe('Temporal');
    }
  });

  it('another FAILED_PRECONDITION is not taken for one', () => {
    const err = new ServiceError('Workflow Update failed', {
      cause: grpc(9, 'namespace is not active in this cluster'),
    });
    expect(updateAborted(err)).toBe(false);
    expect(unavailableDependency(err)).toBeUndefined();
  });

  it('a deadline, an unreachable frontend, an unreachable database', () => {
    expect(unavailableDependency(new WorkflowUpdateRPCTimeoutOrCancelledError('Timeout expired'))).toBe('Temporal');
    expect(unavailableDependency(grpc(14, 'connection refused'))).toBe('Temporal');
    expect(unavailableDependency(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
      'PostgreSQL',
    );
    expect(unavailableDependency(new Error('a bug of ours'))).toBeUndefined();
  });
});
