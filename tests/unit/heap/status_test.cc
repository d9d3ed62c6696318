// Status and Result: codes, messages, errno mapping.
#include <cerrno>

#include <gtest/gtest.h>
#include <shmheap/status.hpp>

namespace shmheap {
namespace {

TEST(StatusTest, OkIsCheapAndEmpty) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.ToErrno(), 0);
}

TEST(StatusTest, EveryCodeMapsToAPreciseErrno) {
  EXPECT_EQ(Status::NotFound("x").ToErrno(), ENOENT);
  EXPECT_EQ(Status::AlreadyExists("x").ToErrno(), EEXIST);
  EXPECT_EQ(Status::InvalidArgument("x").ToErrno(), EINVAL);
  EXPECT_EQ(Status::NoSpace("x").ToErrno(), ENOSPC);
  EXPECT_EQ(Status::Busy("x").ToErrno(), EAGAIN);
  EXPECT_EQ(Status::Deadlock("x").ToErrno(), EDEADLK);
  EXPECT_EQ(Status::OwnerDead("x").ToErrno(), EOWNERDEAD);
  EXPECT_EQ(Status::Corruption("x").ToErrno(), EUCLEAN);
  EXPECT_EQ(Status::VersionMismatch("x").ToErrno(), EPROTO);
  EXPECT_EQ(Status::NotSupported("x").ToErrno(), EOPNOTSUPP);
  EXPECT_EQ(Status::IOError("x", EROFS).ToErrno(), EROFS);
  EXPECT_EQ(Status::TimedOut("x").ToErrno(), ETIMEDOUT);
  EXPECT_EQ(Status::Interrupted("x").ToErrno(), EINTR);
  EXPECT_EQ(Status::Stale("x").ToErrno(), ESTALE);
}

TEST(StatusTest, FromErrnoPicksTheClosestCode) {
  EXPECT_TRUE(Status::FromErrno("open", ENOENT).Is(Code::kNotFound));
  EXPECT_TRUE(Status::FromErrno("grow", ENOSPC).Is(Code::kNoSpace));
  // A quota or a file size limit is "no space" too, but says which at the
  // POSIX boundary.
  EXPECT_TRUE(Status::FromErrno("grow", EDQUOT).Is(Code::kNoSpace));
  EXPECT_EQ(Status::FromErrno("grow", EDQUOT).ToErrno(), EDQUOT);
  EXPECT_EQ(Status::FromErrno("grow", EFBIG).ToErrno(), EFBIG);
  EXPECT_EQ(Status::FromErrno("grow", ENOSPC).ToErrno(), ENOSPC);
  Status io = Status::FromErrno("read", EIO);
  EXPECT_TRUE(io.Is(Code::kIOError));
  EXPECT_EQ(io.sys_errno(), EIO);
  EXPECT_NE(io.ToString().find("read"), std::string::npos);
}

TEST(StatusTest, ResultHoldsValueOrError) {
  Result<int> v(42);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 42);
  Result<int> e(Status::NotFound("gone"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), Code::kNotFound);
  EXPECT_EQ(e.status().message(), "gone");
}

}  // namespace
}  // namespace shmheap
