/** The custom search attributes operators filter on in the Web UI (registered by the dev stack and compose). */
import { defineSearchAttributeKey } from '@temporalio/common';

export const CampaignIdKey = defineSearchAttributeKey('CampaignId', 'KEYWORD');
export const MemberIdKey = defineSearchAttributeKey('MemberId', 'KEYWORD');
export const ActivationStateKey = defineSearchAttributeKey('ActivationState', 'KEYWORD');
export const EvaluatesAtKey = defineSearchAttributeKey('EvaluatesAt', 'DATETIME');
export const CountedCentsKey = defineSearchAttributeKey('CountedCents', 'INT');
/** TREATMENT or HOLDOUT (issue 13), set when the run starts: it never changes. */
export const ExperimentGroupKey = defineSearchAttributeKey('ExperimentGroup', 'KEYWORD');

/** Name → type, as `temporal server start-dev --search-attribute` and the operator API want them. */
export const SEARCH_ATTRIBUTES = {
  CampaignId: 'Keyword',
  MemberId: 'Keyword',
  ActivationState: 'Keyword',
  EvaluatesAt: 'Datetime',
  CountedCents: 'Int',
  ExperimentGroup: 'Keyword',
} as const;
